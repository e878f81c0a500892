import {
  DynamicModule,
  Inject,
  Injectable,
  MiddlewareConsumer,
  Module,
  NestModule,
  OnApplicationShutdown,
  OnModuleInit,
} from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, HttpAdapterHost } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { KafkaModule, kafkaSecurity } from '@audit/kafka';
import { LoggerModule } from 'nestjs-pino';
import { JwtAuthGuard } from './auth/auth.guard';
import { APP_CONFIG, LoadedConfig } from './config/config';
import { DatabaseModule, DatabaseOptions } from './database/database.module';
import { ProblemDetailsFilter } from './errors/problem-details.filter';
import { HealthController } from './health/health.controller';
import { RequestHygieneInterceptor } from './http/request-hygiene.interceptor';
import { pinoParams } from './logging/logging';
import { PUBLIC_URL_SETTING } from './http/links';
import { trustProxySetting } from './http/trusted-proxies';
import { RequestRateLimiter } from './http/rate-limit';
import { Telemetry } from '@audit/telemetry';
import { HttpTelemetryMiddleware } from './telemetry/http-telemetry.middleware';
import { MetricsController } from './telemetry/metrics.controller';

/** Sends the spans still buffered once everything else has stopped (the consumers' last chunks included). */
@Injectable()
class TelemetryShutdown implements OnApplicationShutdown {
  constructor(private readonly telemetry: Telemetry) {}

  async onApplicationShutdown(): Promise<void> {
    await this.telemetry.tracing.shutdown();
  }
}

/**
 * Hands PUBLIC_URL to the HTTP layer, where links to the service's own pages are built, and
 * TRUSTED_PROXIES to Express (`req.ip`, `req.protocol`), for applications not made by createHttpApplication.
 */
@Injectable()
class PublicUrlSetting implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(APP_CONFIG) private readonly config: LoadedConfig,
  ) {}

  onModuleInit(): void {
    const app = this.adapterHost.httpAdapter?.getInstance() as
      { set?: (name: string, value: unknown) => void } | undefined;
    app?.set?.(PUBLIC_URL_SETTING, this.config.PUBLIC_URL ?? null);
    app?.set?.('trust proxy', trustProxySetting(this.config.TRUSTED_PROXIES));
  }
}

export interface PlatformOptions {
  serviceName: string;
  config: LoadedConfig;
  database: DatabaseOptions;
  /** `optional` for a service that only produces (through its outbox): it starts and serves while Kafka is down. */
  kafkaAtBoot?: 'required' | 'optional';
}

/**
 * The plumbing every service shares: validated configuration, JSON logs with request ids, the
 * database with its migrations, Kafka, JWT authentication, problem+json errors, request hygiene
 * (JSON bodies only, nothing unstorable), health probes, metrics (`/metrics`) and tracing.
 */
@Module({})
export class PlatformModule implements NestModule {
  /** Every request is measured and, with tracing on, traced: before guards, pipes and handlers. */
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpTelemetryMiddleware).forRoutes('*');
  }

  static forRoot({ serviceName, config, database, kafkaAtBoot = 'required' }: PlatformOptions): DynamicModule {
    return {
      module: PlatformModule,
      global: true,
      imports: [
        LoggerModule.forRoot(pinoParams(serviceName, config)),
        DatabaseModule.forRoot({ ...database, serviceName }),
        KafkaModule.forRootAsync({
          inject: [APP_CONFIG],
          useFactory: (c: LoadedConfig) => ({
            brokers: c.KAFKA_BROKERS,
            // A broker's logs tell replicas apart.
            clientId: `${serviceName}/${c.INSTANCE_NAME}`,
            atBoot: kafkaAtBoot,
            topic: c.KAFKA_TOPIC,
            partitions: c.KAFKA_TOPIC_PARTITIONS,
            consumerTiming: {
              sessionTimeoutMs: c.KAFKA_SESSION_TIMEOUT_MS,
              heartbeatIntervalMs: c.KAFKA_HEARTBEAT_INTERVAL_MS,
            },
            ...kafkaSecurity(c),
          }),
        }),
        TerminusModule.forRoot({ logger: false }),
      ],
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: Telemetry, useValue: Telemetry.fromConfig(serviceName, config) },
        TelemetryShutdown,
        HttpTelemetryMiddleware,
        { provide: APP_GUARD, useClass: JwtAuthGuard },
        { provide: APP_FILTER, useClass: ProblemDetailsFilter },
        { provide: APP_INTERCEPTOR, useClass: RequestHygieneInterceptor },
        PublicUrlSetting,
        RequestRateLimiter,
      ],
      exports: [APP_CONFIG, RequestRateLimiter, DatabaseModule, Telemetry],
    };
  }
}
