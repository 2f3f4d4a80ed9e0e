/**
 * Reads policy resources as users write them: YAML (several documents per file) or JSON files,
 * and directories of them, recursively. Every problem in every file is collected; if there is
 * any, nothing is returned and a PolicyValidationError lists them all.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { NotFoundError } from '../../common/errors.ts';
import { parseDocument, type IgnoredDocument } from './document.ts';
import { formatSource, PolicyValidationError, type ValidationProblem } from './problems.ts';
import { describe, emptyResourceSet, keyOf, type PolicyResource, type ResourceSet } from './types.ts';

export type { IgnoredDocument };

export interface ParsedManifest {
  resources: PolicyResource[];
  problems: ValidationProblem[];
  ignored: IgnoredDocument[];
}

export interface LoadedResources {
  resources: ResourceSet;
  /** Documents of kinds the policy does not read (Deployment, Service, HTTPRoute, ...). */
  ignored: IgnoredDocument[];
  files: string[];
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** Parses one file's text (YAML, several documents, or JSON). Never throws. */
export function parseManifest(text: string, file: string): ParsedManifest {
  const out: ParsedManifest = { resources: [], problems: [], ignored: [] };
  parseAllDocuments(text).forEach((doc, i) => {
    const source = { file, document: i + 1 };
    if (doc.errors.length > 0) {
      for (const e of doc.errors) out.problems.push({ source, reason: `YAML: ${e.message.split('\n')[0]!.replace(/:$/, '')}` });
      return;
    }
    const result = parseDocument(doc.toJS({ maxAliasCount: 100 }), source);
    out.resources.push(...result.resources);
    out.problems.push(...result.problems);
    out.ignored.push(...result.ignored);
  });
  return out;
}

/** Files named by `paths`: files as given, directories walked (sorted; dot-entries skipped). */
export async function listManifestFiles(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of entries) {
      // Kubernetes mounts ConfigMaps with `..data` links and `..<timestamp>` folders: skip dot-entries.
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      const info = entry.isSymbolicLink() ? await stat(path).catch(() => undefined) : entry;
      if (info?.isDirectory()) await walk(path);
      else if (info?.isFile() && MANIFEST_EXTENSIONS.has(extname(entry.name).toLowerCase())) files.push(path);
    }
  };
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (!info) throw new NotFoundError(`policy resources: no file or directory at ${path}`);
    if (info.isDirectory()) await walk(path);
    else files.push(path);
  }
  return files;
}

/** Puts parsed resources into a set; a second resource with the same kind and name is a problem. */
export function assembleResources(resources: readonly PolicyResource[]): { resources: ResourceSet; problems: ValidationProblem[] } {
  const set = emptyResourceSet();
  const problems: ValidationProblem[] = [];
  const seen = new Map<string, PolicyResource>();
  for (const res of resources) {
    const id = `${res.kind}/${keyOf(res.meta)}`;
    const first = seen.get(id);
    if (first) {
      problems.push({ source: res.source, resource: describe(res), reason: `defined twice (first in ${formatSource(first.source)})` });
      continue;
    }
    seen.set(id, res);
    switch (res.kind) {
      case 'Server': set.servers.push(res); break;
      case 'ServerAuthorization': set.serverAuthorizations.push(res); break;
      case 'AuthorizationPolicy': set.authorizationPolicies.push(res); break;
      case 'MeshTLSAuthentication': set.meshTLSAuthentications.push(res); break;
      case 'NetworkAuthentication': set.networkAuthentications.push(res); break;
      case 'Pod': set.pods.push(res); break;
      case 'Namespace': set.namespaces.push(res); break;
      case 'ServiceAccount': set.serviceAccounts.push(res); break;
    }
  }
  return { resources: set, problems };
}

/** Parsed manifests to a resource set, or a PolicyValidationError listing every problem. */
export function resourcesFromManifests(manifests: readonly ParsedManifest[], files: string[] = []): LoadedResources {
  const all = manifests.flatMap((m) => m.resources);
  const problems = manifests.flatMap((m) => m.problems);
  const assembled = assembleResources(all);
  problems.push(...assembled.problems);
  if (problems.length > 0) throw new PolicyValidationError(problems);
  return { resources: assembled.resources, ignored: manifests.flatMap((m) => m.ignored), files };
}

/**
 * Loads every manifest under `paths`.
 *
 * @example
 *   const { resources } = await loadResources(['policy/']);
 *   const index = PolicyIndex.build(resources, defaultEvaluatorConfig());
 */
export async function loadResources(paths: readonly string[]): Promise<LoadedResources> {
  const files = await listManifestFiles(paths);
  const manifests = await Promise.all(files.map(async (file) => parseManifest(await readFile(file, 'utf8'), file)));
  return resourcesFromManifests(manifests, files);
}

/** Validates already-decoded objects (as from the Kubernetes API, or generated), one document each. */
export function resourcesFromObjects(objects: readonly unknown[], file = '<objects>'): LoadedResources {
  const manifest: ParsedManifest = { resources: [], problems: [], ignored: [] };
  objects.forEach((obj, i) => {
    const r = parseDocument(obj, { file, document: i + 1 });
    manifest.resources.push(...r.resources);
    manifest.problems.push(...r.problems);
    manifest.ignored.push(...r.ignored);
  });
  return resourcesFromManifests([manifest]);
}
