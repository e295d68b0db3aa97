import type { EntityManager } from '@mikro-orm/core';
import { Body, Controller, Get, Inject, NotFoundException, Param, ParseIntPipe, Post, type Type } from '@nestjs/common';
import { Item } from '../entities.js';

interface NewItem {
  title: string;
  tenant: string;
}

/**
 * The same controller in every Nest scenario; only the EntityManager it is given differs (the @mikro-orm/nestjs
 * one, the library's default context, or the library's tenant context). Made per token because the token is a
 * parameter decorator argument.
 */
export function itemsController(emToken: string | Type<unknown>): Type<unknown> {
  @Controller('items')
  class ItemsController {
    constructor(@Inject(emToken) private readonly em: EntityManager) {}

    @Get(':id')
    async findOne(@Param('id', ParseIntPipe) id: number): Promise<Item> {
      const item = await this.em.findOne(Item, id);
      if (!item) throw new NotFoundException(`item ${id}`);
      return item;
    }

    @Post()
    async create(@Body() body: NewItem): Promise<Item> {
      const item = this.em.create(Item, { title: body.title, tenant: body.tenant });
      await this.em.flush();
      return item;
    }
  }
  return ItemsController;
}
