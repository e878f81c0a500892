import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { KAFKA_SASL_MECHANISMS } from '@audit/kafka';
import { z } from 'zod';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * A readable file of PEM certificates (KAFKA_SSL_CA_FILE), checked at boot: a wrong path or a key in place of
 * the bundle would otherwise surface only as a TLS failure at the first connection, a minute of retries later.
 */
export const pemCertificateFile = z.string().superRefine((path, ctx) => {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `cannot read ${path} (${reason})` });
    return;
  }
  const certificates = text.match(PEM_CERTIFICATE) ?? [];
  if (certificates.length === 0) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${path} holds no PEM certificate` });
    return;
  }
  for (const pem of certificates) {
    try {
      new X509Certificate(pem);
    } catch {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${path} holds a certificate that does not parse` });
      return;
    }
  }
});

/** Case-insensitive: Kafka's own documentation spells them SCRAM-SHA-512. */
export const saslMechanism = z.preprocess(
  (v) => (typeof v === 'string' ? v.toLowerCase() : v),
  z.enum(KAFKA_SASL_MECHANISMS, {
    errorMap: () => ({ message: `must be one of ${KAFKA_SASL_MECHANISMS.join(', ')}` }),
  }),
);

interface KafkaSecurityVariables {
  NODE_ENV: string;
  KAFKA_SSL_REJECT_UNAUTHORIZED: boolean;
  KAFKA_SASL_MECHANISM?: string;
  KAFKA_SASL_USERNAME?: string;
  KAFKA_SASL_PASSWORD?: string;
  KAFKA_SASL_PASSWORD_FILE?: string;
}

type Problem = { variable: string; message: string };

/**
 * The checks that span several Kafka variables, and the password read from KAFKA_SASL_PASSWORD_FILE (a
 * Kubernetes Secret mounted as a file). Messages name variables and paths, never a password.
 */
export function checkKafkaSecurity(config: KafkaSecurityVariables): { problems: Problem[]; password?: string } {
  const problems: Problem[] = [];
  // Unverified TLS lets whoever sits on the path pose as the broker: read every event, feed forged ones to the
  // consumers, and with PLAIN take the password. A private CA is what KAFKA_SSL_CA_FILE is for.
  if (!config.KAFKA_SSL_REJECT_UNAUTHORIZED && config.NODE_ENV === 'production') {
    problems.push({
      variable: 'KAFKA_SSL_REJECT_UNAUTHORIZED',
      message: "may be false only outside production (give the brokers' CA in KAFKA_SSL_CA_FILE instead)",
    });
  }
  const { KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_PASSWORD_FILE: passwordFile } = config;
  let password = config.KAFKA_SASL_PASSWORD;
  if (mechanism === undefined) {
    // Credentials without a mechanism would be ignored: the service would connect unauthenticated and be refused.
    const stray = (['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD', 'KAFKA_SASL_PASSWORD_FILE'] as const).find(
      (name) => config[name] !== undefined,
    );
    if (stray) problems.push({ variable: 'KAFKA_SASL_MECHANISM', message: `is required when ${stray} is set` });
    return { problems };
  }
  if (config.KAFKA_SASL_USERNAME === undefined) {
    problems.push({ variable: 'KAFKA_SASL_USERNAME', message: 'is required when KAFKA_SASL_MECHANISM is set' });
  }
  if (password !== undefined && passwordFile !== undefined) {
    problems.push({ variable: 'KAFKA_SASL_PASSWORD_FILE', message: 'set either it or KAFKA_SASL_PASSWORD, not both' });
  } else if (passwordFile !== undefined) {
    try {
      // A file written by `echo` ends in a newline that is not part of the password.
      password = readFileSync(passwordFile, 'utf8').replace(/\r?\n$/, '');
      if (password === '') problems.push({ variable: 'KAFKA_SASL_PASSWORD_FILE', message: `${passwordFile} is empty` });
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      problems.push({ variable: 'KAFKA_SASL_PASSWORD_FILE', message: `cannot read ${passwordFile} (${reason})` });
    }
  } else if (password === undefined) {
    problems.push({
      variable: 'KAFKA_SASL_PASSWORD',
      message: 'is required when KAFKA_SASL_MECHANISM is set (or KAFKA_SASL_PASSWORD_FILE)',
    });
  }
  return { problems, password };
}
