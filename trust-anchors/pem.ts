import { TrustError } from '../common/errors.ts';

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

export interface PemBlock {
  label: string;
  der: Buffer;
}

/** Every PEM block in `text`, in order. Text between blocks (comments, `openssl x509 -text` output) is ignored. */
export function decodePem(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    blocks.push({ label: m[1]!, der: Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64') });
  }
  return blocks;
}

export function encodePem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** The DER of every CERTIFICATE block; refuses text with none, naming `source`. */
export function decodeCertificates(text: string, source: string): Buffer[] {
  const ders = decodePem(text)
    .filter((b) => b.label === 'CERTIFICATE')
    .map((b) => b.der);
  if (ders.length === 0) {
    throw new TrustError(`${source}: no PEM CERTIFICATE block found; expected one or more "-----BEGIN CERTIFICATE-----" blocks`);
  }
  return ders;
}
