import { Controller, DynamicModule, Get, MiddlewareConsumer, Module, NestModule, Param } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Telemetry } from '@audit/telemetry';
import type { AddressInfo } from 'node:net';
import { LoggerModule } from 'nestjs-pino';
import { z } from 'zod';
import { baseConfigShape, LoadedConfig, loadConfig } from '../config/config';
import { createHttpApplication } from '../http/bootstrap';
import { pinoParams } from '../logging/logging';
import { HttpTelemetryMiddleware } from './http-telemetry.middleware';
import { MetricsController } from './metrics.controller';

/*
 * The HTTP side of telemetry over real HTTP, through the services' start-up path: request durations by
 * route template (never the path), /metrics on and off. The server span and its export over OTLP/HTTP are
 * proven with the services as processes (e2e/observability.e2e.spec.ts): the OTLP exporter loads Node's
 * http module with a dynamic import(), which Jest's module runtime refuses inside a test process.
 */
jest.setTimeout(30_000);

@Controller('probe')
class ProbeController {
  @Get('items/:id')
  item(@Param('id') id: string) {
    return { id };
  }
}

const apps: NestExpressApplication[] = [];
afterAll(() => Promise.all(apps.map((app) => app.close())));

async function start(env: Record<string, string>): Promise<{ url: string }> {
  const config: LoadedConfig = loadConfig(z.object(baseConfigShape({ port: 3000, database: 'unused' })), {
    LOG_LEVEL: 'silent',
    ...env,
  });
  const telemetry = Telemetry.fromConfig('telemetry-test', config);
  @Module({})
  class ProbeModule implements NestModule {
    configure(consumer: MiddlewareConsumer): void {
      consumer.apply(HttpTelemetryMiddleware).forRoutes('*');
    }
  }
  const module: DynamicModule = {
    module: ProbeModule,
    imports: [LoggerModule.forRoot(pinoParams('telemetry-test', config))],
    controllers: [ProbeController, MetricsController],
    providers: [{ provide: Telemetry, useValue: telemetry }, HttpTelemetryMiddleware],
  };
  const app = await createHttpApplication('telemetry-test', config, module);
  apps.push(app);
  await app.listen(0, '127.0.0.1');
  return { url: `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}` };
}

describe('HTTP metrics', () => {
  it('counts requests by route template and status, with unmatched paths in one series', async () => {
    const { url } = await start({});
    for (const path of ['/probe/items/1', '/probe/items/2', '/probe/items/3', '/nowhere/4', '/nowhere/5'])
      await fetch(`${url}${path}`);
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    expect(text).toContain(
      'http_server_request_duration_seconds_count{method="GET",route="/probe/items/:id",status_code="200"} 3',
    );
    expect(text.split('\n').filter((l) => l.startsWith('http_server_request_duration_seconds_count'))).toContain(
      'http_server_request_duration_seconds_count{method="GET",route="unmatched",status_code="404"} 2',
    );
    expect(text).not.toMatch(/items\/[0-9]|nowhere/);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
  });

  it('answers 404 on /metrics with METRICS_ENABLED=false', async () => {
    const { url } = await start({ METRICS_ENABLED: 'false' });
    expect((await fetch(`${url}/probe/items/1`)).status).toBe(200);
    expect((await fetch(`${url}/metrics`)).status).toBe(404);
  });
});
