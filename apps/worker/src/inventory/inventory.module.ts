import { Module } from '@nestjs/common';
import { InventoryProcessor } from './inventory.processor';

@Module({ providers: [InventoryProcessor] })
export class InventoryModule {}
