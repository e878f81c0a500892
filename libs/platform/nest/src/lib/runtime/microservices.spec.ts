import type { INestApplication } from '@nestjs/common';
import type { CustomTransportStrategy } from '@nestjs/microservices';
import { connectMicroservices, startMicroservices } from './microservices';

/** An application and strategies that only record what is done to them, in order. */
function fakes(strategyCount: number) {
  const calls: string[] = [];
  const strategies: CustomTransportStrategy[] = Array.from({ length: strategyCount }, () => ({
    listen: () => undefined,
    close: () => undefined,
  }));
  const app = {
    connectMicroservice: (options: { strategy: CustomTransportStrategy }) =>
      calls.push(`connect ${strategies.indexOf(options.strategy)}`),
    init: async () => void calls.push('init'),
    startAllMicroservices: async () => void calls.push('start microservices'),
  } as unknown as INestApplication;
  return { app, strategies, calls };
}

describe('service microservices', () => {
  it('connects each strategy, initialises the application (bootstrap hooks) and then starts them', async () => {
    const { app, strategies, calls } = fakes(2);
    await startMicroservices(app, connectMicroservices(app, strategies));
    expect(calls).toEqual(['connect 0', 'connect 1', 'init', 'start microservices']);
  });

  it('does nothing for a service without microservices (listen initialises it, as before)', async () => {
    const { app, calls } = fakes(0);
    await startMicroservices(app, connectMicroservices(app, []));
    expect(calls).toEqual([]);
  });
});
