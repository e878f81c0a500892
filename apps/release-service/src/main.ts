import 'reflect-metadata';
import { runService } from '@audit/platform';
import { AppModule } from './app/app.module';
import { loadReleaseServiceConfig, ReleaseServiceConfig } from './config';

void runService(
  'release-service',
  () => loadReleaseServiceConfig(),
  (config) => AppModule.forRoot(config as ReleaseServiceConfig),
);
