import { readFileSync } from 'node:fs';
import type { KafkaConnection, KafkaSaslMechanism } from './kafka.constants';

/**
 * The Kafka security variables of docs/contracts.md as the configuration schema leaves them: validated,
 * and the password already read from KAFKA_SASL_PASSWORD_FILE when that was given.
 */
export interface KafkaSecuritySettings {
  KAFKA_SSL: boolean;
  KAFKA_SSL_CA_FILE?: string;
  KAFKA_SSL_REJECT_UNAUTHORIZED: boolean;
  KAFKA_SASL_MECHANISM?: KafkaSaslMechanism;
  KAFKA_SASL_USERNAME?: string;
  KAFKA_SASL_PASSWORD?: string;
}

/** TLS and SASL of the service's Kafka clients. A CA file implies TLS; it is read once, here, at boot. */
export function kafkaSecurity(settings: KafkaSecuritySettings): Pick<KafkaConnection, 'ssl' | 'sasl'> {
  const caFile = settings.KAFKA_SSL_CA_FILE;
  const security: Pick<KafkaConnection, 'ssl' | 'sasl'> = {};
  if (settings.KAFKA_SSL || caFile !== undefined) {
    security.ssl = {
      rejectUnauthorized: settings.KAFKA_SSL_REJECT_UNAUTHORIZED,
      ...(caFile !== undefined && { ca: readFileSync(caFile, 'utf8') }),
    };
  }
  const { KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_USERNAME: username, KAFKA_SASL_PASSWORD: password } = settings;
  if (mechanism !== undefined) {
    // The configuration schema refuses a mechanism without both; this only guards other callers.
    if (username === undefined || password === undefined) {
      throw new Error('KAFKA_SASL_MECHANISM is set without KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD');
    }
    security.sasl = { mechanism, username, password };
  }
  return security;
}
