// @peculiar/x509 v2 requires a Reflect polyfill before it loads; production code gets it through
// trust-anchors/x509.ts, tests that import the library directly get it here.
import 'reflect-metadata';
