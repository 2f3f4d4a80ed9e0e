import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError, NotFoundError, UsageError } from '../common/errors.ts';

/**
 * The kubeconfig named by `--kubeconfig` (and `--context`), or the default one (in-cluster,
 * $KUBECONFIG, ~/.kube/config), for every command that reaches Kubernetes. A missing or broken
 * file is the user's to fix (not found, or configuration), never an internal error.
 */
export function loadKubeConfig(flags: { kubeconfig?: string | undefined; context?: string | undefined }): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (flags.kubeconfig) {
    if (!existsSync(flags.kubeconfig)) throw new NotFoundError(`--kubeconfig: no file at ${flags.kubeconfig}`);
    try {
      kubeConfig.loadFromFile(flags.kubeconfig);
    } catch (err) {
      throw new ConfigError(`--kubeconfig ${flags.kubeconfig}: ${(err as Error).message}`);
    }
  } else kubeConfig.loadFromDefault();
  if (flags.context) {
    if (!kubeConfig.getContexts().some((c) => c.name === flags.context)) throw new UsageError(`--context "${flags.context}" is not in the kubeconfig`);
    kubeConfig.setCurrentContext(flags.context);
  }
  if (!kubeConfig.getCurrentCluster()) throw new ConfigError('the kubeconfig names no cluster for its current context');
  return kubeConfig;
}
