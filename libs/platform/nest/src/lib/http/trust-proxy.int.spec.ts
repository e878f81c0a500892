import { Controller, DynamicModule, Get, Module, Req, Res } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Request, Response } from 'express';
import type { AddressInfo } from 'node:net';
import { LoggerModule } from 'nestjs-pino';
import { z } from 'zod';
import { baseConfigShape, LoadedConfig, loadConfig } from '../config/config';
import { pinoParams } from '../logging/logging';
import { createHttpApplication } from './bootstrap';
import { linkNext } from './links';

/*
 * TRUSTED_PROXIES as Express's `trust proxy`, over real HTTP through the services' own start-up path
 * (createHttpApplication): X-Forwarded-For/-Proto/-Host are believed from a trusted peer only, and the
 * pagination link never takes the host from them.
 */
jest.setTimeout(30_000);

@Controller('probe')
class ProbeController {
  /** What a handler sees of the client, with the next-page link every paginated route sets. */
  @Get('page')
  page(@Req() req: Request, @Res({ passthrough: true }) res: Response) {
    linkNext(req, res, { page: '2' });
    return { ip: req.ip, protocol: req.protocol, secure: req.secure, hostname: req.hostname };
  }
}

@Module({})
class ProbeModule {}

const configWith = (env: Record<string, string>): LoadedConfig =>
  loadConfig(z.object(baseConfigShape({ port: 3000, database: 'unused' })), { LOG_LEVEL: 'silent', ...env });

const apps: NestExpressApplication[] = [];
afterAll(() => Promise.all(apps.map((app) => app.close())));

async function start(env: Record<string, string>): Promise<string> {
  const config = configWith(env);
  const module: DynamicModule = {
    module: ProbeModule,
    imports: [LoggerModule.forRoot(pinoParams('trust-proxy-test', config))],
    controllers: [ProbeController],
  };
  const app = await createHttpApplication('trust-proxy-test', config, module);
  apps.push(app);
  await app.listen(0, '127.0.0.1');
  return `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
}

const FORWARDED = {
  'X-Forwarded-For': '203.0.113.7, 198.51.100.2',
  'X-Forwarded-Proto': 'https',
  'X-Forwarded-Host': 'evil.example',
};

async function probe(base: string) {
  const res = await fetch(`${base}/probe/page?per_page=5`, { headers: FORWARDED });
  expect(res.status).toBe(200);
  return { seen: (await res.json()) as Record<string, unknown>, link: res.headers.get('link') };
}

describe('TRUSTED_PROXIES (Express trust proxy)', () => {
  it('believes X-Forwarded-For hop by hop and X-Forwarded-Proto from a trusted peer only', async () => {
    // The peer (127.0.0.1) and the next hop (198.51.100.2) are trusted: the client is 203.0.113.7.
    const trusted = await probe(await start({ TRUSTED_PROXIES: '127.0.0.1,198.51.100.0/24' }));
    expect(trusted.seen).toMatchObject({
      ip: '203.0.113.7',
      protocol: 'https',
      secure: true,
      hostname: 'evil.example',
    });
    // The link stays relative although Express now believes the forwarded host: a client resolves it
    // against the URL it asked for, https included, and no header can name another host in it.
    expect(trusted.link).toBe('</probe/page?per_page=5&page=2>; rel="next"');

    // A peer outside the list, and no list at all (the default): every forwarded header is ignored.
    for (const env of [{ TRUSTED_PROXIES: '10.0.0.0/8' }, {}] as Array<Record<string, string>>) {
      const { seen, link } = await probe(await start(env));
      expect(seen).toMatchObject({ ip: '127.0.0.1', protocol: 'http', secure: false, hostname: '127.0.0.1' });
      expect(link).toBe('</probe/page?per_page=5&page=2>; rel="next"');
    }
  });

  it('with a preset, trusts only the peer it names and stops at the first untrusted hop', async () => {
    const { seen } = await probe(await start({ TRUSTED_PROXIES: 'loopback' }));
    expect(seen).toMatchObject({ ip: '198.51.100.2', protocol: 'https' });
  });
});
