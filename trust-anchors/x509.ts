// @peculiar/x509 v2 needs a Reflect metadata polyfill loaded before it (its README says so).
// Every module here imports x509 through this file so that the order is guaranteed.
import 'reflect-metadata';

export * from '@peculiar/x509';
