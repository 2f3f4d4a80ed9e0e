import type { FieldReader, Obj } from './fields.ts';
import type { ObjectMeta, SourceRef } from './types.ts';

/** What a kind's parser gets: the document, its already-read metadata, and the problem sink. */
export interface ParseContext {
  r: FieldReader;
  doc: Obj;
  apiVersion: string;
  /** `v1beta3`, the version part of apiVersion. */
  version: string;
  meta: ObjectMeta;
  source: SourceRef;
}

export function base<K extends string>(ctx: ParseContext, kind: K): { kind: K; apiVersion: string; meta: ObjectMeta; source: SourceRef } {
  return { kind, apiVersion: ctx.apiVersion, meta: ctx.meta, source: ctx.source };
}
