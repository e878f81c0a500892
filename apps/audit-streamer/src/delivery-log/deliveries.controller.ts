import { ApiZodBody, ApiZodQuery, CurrentPrincipal, linkNext, parseInput, Principal } from '@audit/platform';
import { Body, Controller, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { DeliveryLogQuerySchema, DeliveryLogView, ReplaySchema } from './delivery-log.schemas';
import { DeliveryLogService, DestinationScope } from './delivery-log.service';

/** The routes, shared by the group-level and the instance-level controller. */
abstract class DeliveriesRoutes {
  protected constructor(private readonly service: DeliveryLogService) {}

  protected abstract scope(params: Record<string, string>): DestinationScope;

  @Get(':destination_id/deliveries')
  @ApiZodQuery(DeliveryLogQuerySchema)
  async list(
    @Param() params: Record<string, string>,
    @Query() query: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<DeliveryLogView[]> {
    const page = await this.service.list(
      this.scope(params),
      params['destination_id'],
      parseInput(DeliveryLogQuerySchema, query, 'query'),
      principal,
    );
    if (page.nextBeforeId !== null) linkNext(req, res, { before_id: String(page.nextBeforeId) });
    return page.deliveries;
  }

  @Post(':destination_id/deliveries/:delivery_id/retry')
  @HttpCode(202)
  retry(@Param() params: Record<string, string>, @CurrentPrincipal() principal: Principal) {
    return this.service.retry(this.scope(params), params['destination_id'], params['delivery_id'], principal);
  }

  @Post(':destination_id/replay')
  @HttpCode(202)
  @ApiZodBody(ReplaySchema)
  replay(@Param() params: Record<string, string>, @Body() body: unknown, @CurrentPrincipal() principal: Principal) {
    return this.service.replay(this.scope(params), params['destination_id'], parseInput(ReplaySchema, body), principal);
  }
}

/** Delivery log, retry and replay of a top-level group's destination (owners of the group). */
@Controller('api/v4/groups/:id/audit_events/streaming/destinations')
export class GroupDeliveriesController extends DeliveriesRoutes {
  constructor(service: DeliveryLogService) {
    super(service);
  }

  protected scope(params: Record<string, string>): DestinationScope {
    return { groupIdOrPath: params['id'] };
  }
}

/** The same for instance-level destinations (admins). */
@Controller('api/v4/admin/audit_events/streaming/destinations')
export class AdminDeliveriesController extends DeliveriesRoutes {
  constructor(service: DeliveryLogService) {
    super(service);
  }

  protected scope(): DestinationScope {
    return null;
  }
}
