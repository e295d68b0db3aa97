import type { EntityManager } from '@mikro-orm/core';
import { Controller, DefaultValuePipe, Get, Inject, ParseIntPipe, Query, type Type } from '@nestjs/common';
import { Article, RELATIONAL } from '../entities.js';

/**
 * The relational workload, the same in every Nest scenario (only the EntityManager differs, as in
 * items.controller.ts): a page of articles, newest first, with the author (m:1: a join under MikroORM's default
 * `balanced` strategy) and the tags (m:n: one more query through the pivot table), plus the total (a count query).
 */
export function articlesController(emToken: string | Type<unknown>): Type<unknown> {
  @Controller('articles')
  class ArticlesController {
    constructor(@Inject(emToken) private readonly em: EntityManager) {}

    @Get()
    async list(@Query('page', new DefaultValuePipe(1), ParseIntPipe) page: number): Promise<{ page: number; total: number; items: Article[] }> {
      const [items, total] = await this.em.findAndCount(Article, {}, {
        populate: ['author', 'tags'],
        orderBy: { publishedAt: 'desc', id: 'desc' },
        limit: RELATIONAL.pageSize,
        offset: (Math.max(1, page) - 1) * RELATIONAL.pageSize,
      });
      return { page, total, items };
    }
  }
  return ArticlesController;
}
