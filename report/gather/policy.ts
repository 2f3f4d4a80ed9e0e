/** Policy resources for the coverage section, decided as the mesh decides them. */
import { stat } from 'node:fs/promises';
import { loadResources } from '../../policy/resources/load.ts';
import type { EvaluatorConfig } from '../../policy/evaluator/types.ts';
import type { PolicyInput } from '../inputs.ts';

/**
 * @param optional the home's default directory: null when it is absent; explicit paths must exist
 */
export async function gatherPolicy(paths: readonly string[], config: EvaluatorConfig, options: { optional?: boolean } = {}): Promise<PolicyInput | null> {
  if (paths.length === 0) return null;
  if (options.optional) {
    const present = await Promise.all(paths.map((p) => stat(p).then(() => true, () => false)));
    if (!present.every(Boolean)) return null;
  }
  const loaded = await loadResources(paths);
  return { paths: [...paths], files: loaded.files, resources: loaded.resources, config };
}
