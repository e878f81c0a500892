import { CurrentPrincipal, parseInput, Principal } from '@audit/platform';
import { Body, Controller, Get, Param, Post, Query } from '@nestjs/common';
import { CreateDestinationSchema, CreateHeaderSchema, DeliveriesQuerySchema } from './destination.schemas';
import { DestinationsService } from './destinations.service';

/** Group-level streaming destinations (CONTRACTS.md, audit-streamer API). */
@Controller('api/v4/groups/:id/audit_events/streaming/destinations')
export class DestinationsController {
  constructor(private readonly destinations: DestinationsService) {}

  @Post()
  create(@Param('id') id: string, @Body() body: unknown, @CurrentPrincipal() principal: Principal) {
    return this.destinations.create(id, parseInput(CreateDestinationSchema, body), principal);
  }

  @Get()
  list(@Param('id') id: string, @CurrentPrincipal() principal: Principal) {
    return this.destinations.list(id, principal);
  }

  @Post(':destination_id/headers')
  addHeader(
    @Param('id') id: string,
    @Param('destination_id') destinationId: string,
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
  ) {
    return this.destinations.addHeader(id, destinationId, parseInput(CreateHeaderSchema, body), principal);
  }

  @Get(':destination_id/deliveries')
  deliveries(
    @Param('id') id: string,
    @Param('destination_id') destinationId: string,
    @Query() query: unknown,
    @CurrentPrincipal() principal: Principal,
  ) {
    return this.destinations.listDeliveries(id, destinationId, parseInput(DeliveriesQuerySchema, query, 'query'), principal);
  }
}
