import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../src/app/app.module';
import { loadAuditRecorderConfig } from '../src/config';
import { recorderTransport } from '../src/consumer/recorder.transport';

/**
 * The recorder as main.ts runs it, without the HTTP listener: the application with its consumer
 * connected as a microservice and started. `app.close()` stops the consumer (in-flight chunk committed)
 * before the database pool closes.
 */
export async function startRecorder(env: NodeJS.ProcessEnv): Promise<INestApplication> {
  const config = loadAuditRecorderConfig(env);
  const app = await NestFactory.create(AppModule.forRoot(config), { logger: false });
  app.connectMicroservice({ strategy: recorderTransport(app, config) });
  await app.init();
  await app.startAllMicroservices();
  return app;
}
