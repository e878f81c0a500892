import { Module } from '@nestjs/common';
import { WorkerSqlModule } from '../worker-sql-pool';
import { DestinationsModule } from '../destinations/destinations.module';
import { AttemptRecorder } from './attempt-recorder';
import { DestinationDeactivation } from './destination-deactivation';
import { OutcomesRepository } from './outcomes.repository';

/**
 * What attempts did: outcomes and attempt log in batches, destination health (pause, recovery),
 * and deactivation (410 Gone, failing too long) through the destinations side, which records it.
 * Exports the recorder, which the worker hands every attempt to.
 */
@Module({
  imports: [WorkerSqlModule, DestinationsModule],
  providers: [OutcomesRepository, DestinationDeactivation, AttemptRecorder],
  exports: [AttemptRecorder],
})
export class OutcomesModule {}
