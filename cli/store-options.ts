import type { Command } from 'commander';
import { homeOption } from './options.ts';

/** Where trust material is published: the home, or the Kubernetes objects `serve --kubernetes` reads. */
export interface StoreFlags {
  home?: string;
  kubernetes: boolean;
  kubeconfig?: string;
  namespace: string;
  issuerSecret: string;
  trustRootsConfigmap: string;
}

/** The store flags of `init` and the rotations, the same names and defaults as `serve --kubernetes`. */
export function addStoreOptions(command: Command): Command {
  return command
    .addOption(homeOption())
    .option('--kubernetes', 'publish to the issuer Secret and trust-roots ConfigMap (the anchor key stays in the local home)', false)
    .option('--kubeconfig <file>', 'kubeconfig (default: in-cluster, $KUBECONFIG or ~/.kube/config)')
    .option('--namespace <ns>', 'namespace of the issuer Secret and trust-roots ConfigMap', 'linkerd')
    .option('--issuer-secret <name>', 'issuer Secret (kubernetes.io/tls)', 'linkerd-identity-issuer')
    .option('--trust-roots-configmap <name>', 'trust bundle ConfigMap (key ca-bundle.crt)', 'linkerd-identity-trust-roots');
}
