import { Args, Int, Mutation, Query, Resolver } from '@nestjs/graphql';
import { badInput } from '@portcullis/platform';
import { ConnectionType } from '../graphql/connection';
import { IdArg } from '../graphql/id-arg';
import { Access } from '../tenancy/access.decorator';
import { CurrentPrincipal } from '../tenancy/current-principal.decorator';
import type { Principal } from '../tenancy/principal';
import { AlertDeliveryService } from './alert-delivery.service';
import { AlertDestinationService } from './alert-destination.service';
import {
  AlertDeliveriesArgs,
  AlertDelivery,
  AlertDestination,
  AlertDestinationsArgs,
  AlertDestinationWithSecret,
  CreateAlertDestinationInput,
  UpdateAlertDestinationInput,
} from './alert.types';

/** Hours the previous signing secret keeps signing: 0-168, default 24. */
const OverlapHoursArg = () =>
  Args(
    'overlapHours',
    {
      type: () => Int,
      nullable: true,
      defaultValue: 24,
      description: 'Hours the previous secret keeps signing beside the new one (0-168, default 24).',
    },
    {
      transform(value: unknown): number {
        if (value === undefined || value === null) return 24;
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 168)
          throw badInput('overlapHours', 'overlapHours: must be a whole number of hours from 0 to 168');
        return value;
      },
    },
  );

const AlertDestinationConnection = ConnectionType(AlertDestination, 'AlertDestination');
const AlertDeliveryConnection = ConnectionType(AlertDelivery, 'AlertDelivery');

@Resolver(() => AlertDestination)
export class AlertDestinationResolver {
  constructor(private readonly service: AlertDestinationService) {}

  @Access('manage')
  @Query(() => AlertDestinationConnection, {
    description: 'Alert destinations of the tenant, newest first (OWNER or SECURITY_ADMIN at tenant level).',
  })
  alertDestinations(@CurrentPrincipal() principal: Principal, @Args() args: AlertDestinationsArgs) {
    return this.service.list(principal, args);
  }

  @Access('manage')
  @Mutation(() => AlertDestinationWithSecret, {
    description: 'Adds a destination; a WEBHOOK one answers its signing secret, once.',
  })
  createAlertDestination(@CurrentPrincipal() principal: Principal, @Args('input') input: CreateAlertDestinationInput) {
    return this.service.create(principal, input);
  }

  @Access('manage')
  @Mutation(() => AlertDestination)
  updateAlertDestination(
    @CurrentPrincipal() principal: Principal,
    @IdArg() id: string,
    @Args('input') input: UpdateAlertDestinationInput,
  ) {
    return this.service.update(principal, id, input);
  }

  @Access('manage')
  @Mutation(() => AlertDestinationWithSecret, {
    description:
      'A new signing secret for a WEBHOOK destination, shown once; the previous one also signs during the overlap.',
  })
  rotateAlertDestinationSecret(
    @CurrentPrincipal() principal: Principal,
    @IdArg() id: string,
    @OverlapHoursArg() overlapHours: number,
  ) {
    return this.service.rotateSecret(principal, id, overlapHours);
  }

  @Access('manage')
  @Mutation(() => AlertDestination, { description: 'Deletes a destination; its delivery log stays.' })
  deleteAlertDestination(@CurrentPrincipal() principal: Principal, @IdArg() id: string) {
    return this.service.delete(principal, id);
  }
}

@Resolver(() => AlertDelivery)
export class AlertDeliveryResolver {
  constructor(private readonly service: AlertDeliveryService) {}

  @Access('read')
  @Query(() => AlertDeliveryConnection, {
    description: 'The delivery log, newest first: deliveries of alerts in the scopes the caller reads.',
  })
  alertDeliveries(@CurrentPrincipal() principal: Principal, @Args() args: AlertDeliveriesArgs) {
    return this.service.list(principal, args);
  }

  @Access('manage')
  @Mutation(() => AlertDelivery, { description: 'Sends a TEST alert to a destination; answers its delivery.' })
  sendTestAlert(@CurrentPrincipal() principal: Principal, @IdArg('destinationId') destinationId: string) {
    return this.service.sendTest(principal, destinationId);
  }
}
