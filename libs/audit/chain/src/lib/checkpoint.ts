import { createHash, createPrivateKey, createPublicKey, KeyObject, sign, verify } from 'node:crypto';
import { ChainHead, PurgedRange } from './chain-hash';

/*
 * Signed checkpoints (docs/architecture.md, "Integrity: signed checkpoints"). A checkpoint states every chain's
 * head at one moment, the ranges purges removed, and the JSON log files closed since the previous checkpoint;
 * the recorder signs its JSON text with Ed25519. Checkpoints are themselves chained (`previous` is the SHA-256 of
 * the previous checkpoint's text), so one edited, removed or inserted in the middle breaks the next one.
 */

/** Why a checkpoint was made. */
export type CheckpointReason = 'interval' | 'shutdown' | 'purge';

/** A JSON log file closed by rotation: its name, size and SHA-256, as the instance that wrote it computed them. */
export interface LogFileDigest {
  instance: string;
  file: string;
  bytes: number;
  sha256: string;
  closed_at: string;
}

/** What is signed. Written with JSON.stringify in this key order; the text is stored and verified as it is. */
export interface CheckpointBody {
  version: 1;
  id: string;
  /** 1, 2, 3, … without gaps. */
  sequence: number;
  created_at: string;
  reason: CheckpointReason;
  /** The signing key's id (keyIdOf). */
  key_id: string;
  /** SHA-256 (hex) of the previous checkpoint's text; null for sequence 1. */
  previous: string | null;
  /** Every chain's head, sorted by chain. */
  chains: ChainHead[];
  /** Everything purges removed so far, merged, sorted by chain and from. */
  purged: PurgedRange[];
  /** JSON log files closed since the previous checkpoint. */
  log_files: LogFileDigest[];
}

/** A checkpoint as stored, served and published: its exact text and the signature over that text. */
export interface SignedCheckpoint {
  body: string;
  /** Ed25519 signature of the UTF-8 text `body`, base64. */
  signature: string;
}

/** The checkpoint's text: fields in the interface's order, so the same content always gives the same text. */
export function checkpointText(body: CheckpointBody): string {
  const ordered: CheckpointBody = {
    version: body.version,
    id: body.id,
    sequence: body.sequence,
    created_at: body.created_at,
    reason: body.reason,
    key_id: body.key_id,
    previous: body.previous,
    chains: body.chains.map((h) => ({ chain: h.chain, seq: h.seq, hash: h.hash })),
    purged: body.purged.map((r) => ({ chain: r.chain, from: r.from, to: r.to, hash: r.hash })),
    log_files: body.log_files.map((f) => ({
      instance: f.instance,
      file: f.file,
      bytes: f.bytes,
      sha256: f.sha256,
      closed_at: f.closed_at,
    })),
  };
  return JSON.stringify(ordered);
}

/** SHA-256 (hex) of a checkpoint's text: what the next checkpoint's `previous` is. */
export const checkpointDigest = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** The signing key pair and the public key's id and PEM, as served to auditors. */
export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyId: string;
  publicKeyPem: string;
}

/** A key's id: SHA-256 (hex) of its public key in DER (SubjectPublicKeyInfo), the first 32 hex digits. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 32);
}

/** Reads an Ed25519 private key (PEM, PKCS#8); throws a message fit for a config error otherwise. */
export function signingKeyFromPem(pem: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new Error('is not a PEM private key');
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new Error(`must be an Ed25519 key, not ${privateKey.asymmetricKeyType ?? 'unknown'}`);
  }
  const publicKey = createPublicKey(privateKey);
  return {
    privateKey,
    publicKey,
    keyId: keyIdOf(publicKey),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** Reads an Ed25519 public key (PEM, SubjectPublicKeyInfo, or a private key's PEM); throws otherwise. */
export function publicKeyFromPem(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw new Error('is not a PEM public key');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`must be an Ed25519 key, not ${key.asymmetricKeyType}`);
  return key;
}

export function signCheckpoint(body: CheckpointBody, key: SigningKey): SignedCheckpoint {
  const text = checkpointText(body);
  return { body: text, signature: sign(null, Buffer.from(text, 'utf8'), key.privateKey).toString('base64') };
}

/** Whether `signature` is `publicKey`'s signature of the text; false for anything malformed. */
export function checkpointSignatureValid(checkpoint: SignedCheckpoint, publicKey: KeyObject): boolean {
  try {
    return verify(null, Buffer.from(checkpoint.body, 'utf8'), publicKey, Buffer.from(checkpoint.signature, 'base64'));
  } catch {
    return false;
  }
}

/** Parses a checkpoint's text; null when it is not a checkpoint body (verifiers report it as forged). */
export function parseCheckpointBody(text: string): CheckpointBody | null {
  try {
    const body = JSON.parse(text) as CheckpointBody;
    const ok =
      body &&
      body.version === 1 &&
      typeof body.id === 'string' &&
      Number.isInteger(body.sequence) &&
      typeof body.created_at === 'string' &&
      typeof body.key_id === 'string' &&
      (body.previous === null || typeof body.previous === 'string') &&
      Array.isArray(body.chains) &&
      Array.isArray(body.purged) &&
      Array.isArray(body.log_files);
    return ok ? body : null;
  } catch {
    return null;
  }
}
