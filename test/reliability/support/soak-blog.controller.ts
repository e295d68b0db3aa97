/**
 * The relational soak's endpoints (issue 12): the blog model of the isolation conformance suite driven over HTTP
 * through the injected tenant EntityManager, as an app would. Reads populate relations of every kind with a chosen
 * load strategy and count; writes run in `em.transactional` with awaits (sleeps) between their queries, so requests
 * of different tenants interleave on the same pools. Every response names the tenant the server thought it served
 * and carries each row's text column (where the tenant marker lives), so the client can judge every row it got.
 */
import { DeadlockException, type LoadStrategy } from '@mikro-orm/core';
import { EntityManager } from '@mikro-orm/postgresql';
import { BadRequestException, Body, ConflictException, Controller, Get, NotFoundException, Param, Post, Query } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { InjectEntityManager, RequireTenant, TenancyService } from '../../../src/index.js';
import { Article, Author, Comment, Favorite, Profile, Tag } from '../../fixtures/relational/entities.js';

export const STRATEGIES = ['joined', 'select-in', 'balanced'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export interface AuthorRef {
  id: string;
  username: string;
  displayName: string;
}
export interface TagRef {
  id: string;
  name: string;
  description: string;
}
export interface ArticleRef {
  id: string;
  title: string;
}
export interface ArticleView extends ArticleRef {
  author: AuthorRef;
  tags: TagRef[];
  commentCount: number | null;
}
export interface CommentRef {
  id: string;
  body: string;
  author: AuthorRef;
}

export interface ListResponse {
  tenant: string;
  total: number;
  tagged: number;
  tags: number;
  articles: ArticleView[];
}
export interface AuthorResponse {
  tenant: string;
  author: AuthorRef & { country: string; profile: { id: string; bio: string } | null };
  following: AuthorRef[];
  followers: AuthorRef[];
  favorites: ArticleRef[];
  articles: ArticleRef[];
}
export interface CreateArticleBody {
  id: string;
  title: string;
  published: boolean;
  authorId: string;
  tagIds: string[];
  newTag?: TagRef;
  pause: number;
}
export interface CreateArticleResponse {
  tenant: string;
  article: ArticleView;
  byAuthor: number;
}
export interface FavoriteBody {
  authorId: string;
  articleId: string;
  /** `entity`: `em.create(Favorite)`; `collection`: `author.favorites.add(article)` (insert through the pivot entity). */
  via: 'entity' | 'collection';
  pause: number;
}
export interface FavoriteResponse {
  tenant: string;
  author: AuthorRef;
  article: ArticleRef & { author: AuthorRef };
  favorites: number;
  loaded: ArticleRef[];
}
export interface FollowBody {
  id: string;
  username: string;
  email: string;
  displayName: string;
  country: string;
  bio: string;
  follows: string[];
  followedBy: string;
  pause: number;
}
export interface FollowResponse {
  tenant: string;
  author: AuthorRef & { country: string; following: AuthorRef[]; profile: { id: string; bio: string } };
  follower: AuthorRef & { following: AuthorRef[] };
}
export interface CommentBody {
  id: string;
  body: string;
  articleId: string;
  authorId: string;
  pause: number;
}
export interface CommentResponse {
  tenant: string;
  comment: CommentRef;
  article: ArticleRef & { author: AuthorRef };
  visible: number;
  latest: CommentRef[];
}

const authorRef = (a: Author): AuthorRef => ({ id: a.id, username: a.username, displayName: a.displayName });
const articleRef = (a: Article): ArticleRef => ({ id: a.id, title: a.title });
const tagRef = (t: Tag): TagRef => ({ id: t.id, name: t.name, description: t.description });
const byId = <T extends { id: string }>(rows: T[]): T[] => [...rows].sort((a, b) => a.id.localeCompare(b.id));
const strategyOf = (value: string | undefined): LoadStrategy => {
  if (!STRATEGIES.includes(value as Strategy)) throw new BadRequestException(`strategy must be one of ${STRATEGIES.join(', ')}`);
  return value as LoadStrategy;
};
const pauseOf = (value: unknown): number => Math.max(0, Math.min(200, Number(value ?? 0) || 0));

/** Marks a 409 as a deadlock PostgreSQL broke (the transaction was rolled back), for the client to count apart. */
export const DEADLOCK = 'deadlock';

/**
 * A transaction PostgreSQL chose as a deadlock victim answers 409 `deadlock` (it was rolled back: nothing of it
 * stays), so the soak can count those apart from real failures; anything else propagates.
 */
const deadlockAs409 = <T>(work: Promise<T>): Promise<T> =>
  work.catch((error: unknown) => {
    if (error instanceof DeadlockException) throw new ConflictException({ message: DEADLOCK, detail: error.message.slice(0, 600) });
    throw error;
  });

@RequireTenant()
@Controller('soak')
export class SoakBlogController {
  constructor(
    @InjectEntityManager('tenant') private readonly em: EntityManager,
    private readonly tenancy: TenancyService,
  ) {}

  /**
   * A page of articles with their author (m:1 join) and tags (m:n populate) under `strategy`, the total (optionally
   * of one author's articles, a where through the m:1 join), the number of articles carrying tag `tagId` (a count
   * through the pivot) and of tags, with `pause` ms between the queries.
   */
  @Get('articles')
  async list(@Query('strategy') strategy?: string, @Query('username') username?: string, @Query('tagId') tagId?: string, @Query('pause') pause?: string): Promise<ListResponse> {
    const where = username ? { author: { username } } : {};
    const [articles, total] = await this.em.findAndCount(Article, where, { populate: ['author', 'tags'], strategy: strategyOf(strategy), orderBy: { id: 'desc' }, limit: 12 });
    const ms = pauseOf(pause);
    if (ms) await sleep(ms);
    const tagged = await this.em.count(Article, { tags: { id: tagId ?? 'tg1' } });
    const tags = await this.em.count(Tag, {});
    return {
      tenant: this.tenancy.current().id,
      total,
      tagged,
      tags,
      articles: articles.map((a) => ({
        ...articleRef(a),
        author: authorRef(a.author.getEntity()),
        tags: byId(a.tags.getItems().map(tagRef)),
        commentCount: a.commentCount ?? null,
      })),
    };
  }

  /** One author with profile (1:1), following and followers (self m:n, both sides), favorites (m:n through a pivot entity) and articles (1:m). */
  @Get('authors/:id')
  async author(@Param('id') id: string, @Query('strategy') strategy?: string): Promise<AuthorResponse> {
    const author = await this.em.findOne(Author, id, { populate: ['profile', 'following', 'followers', 'favorites', 'articles'], strategy: strategyOf(strategy) });
    if (!author) throw new NotFoundException(`no author '${id}'`);
    return {
      tenant: this.tenancy.current().id,
      author: { ...authorRef(author), country: author.address.country, profile: author.profile ? { id: author.profile.id, bio: author.profile.bio } : null },
      following: byId(author.following.getItems().map(authorRef)),
      followers: byId(author.followers.getItems().map(authorRef)),
      favorites: byId(author.favorites.getItems().map(articleRef)),
      articles: byId(author.articles.getItems().map(articleRef)),
    };
  }

  /** A new article with existing tags and sometimes a new tag (inserts into `article_tags`), in one transaction. */
  @Post('articles')
  createArticle(@Body() body: CreateArticleBody): Promise<CreateArticleResponse> {
    const ms = pauseOf(body.pause);
    return deadlockAs409(this.em.transactional(async (em) => {
      const author = await em.findOneOrFail(Author, body.authorId);
      const tags = await em.find(Tag, { id: { $in: body.tagIds } });
      if (tags.length !== body.tagIds.length) throw new NotFoundException(`tags ${body.tagIds.join(',')}: found ${tags.map((t) => t.id).join(',')}`);
      if (ms) await sleep(ms);
      const article = em.create(Article, { id: body.id, title: body.title, published: body.published, author, tags });
      if (body.newTag) article.tags.add(em.create(Tag, body.newTag));
      await em.flush();
      if (ms) await sleep(ms);
      const byAuthor = await em.count(Article, { author });
      return {
        tenant: this.tenancy.current().id,
        article: { ...articleRef(article), author: authorRef(author), tags: byId(article.tags.getItems().map(tagRef)), commentCount: null },
        byAuthor,
      };
    }));
  }

  /** An author favors an article: a row of the `Favorite` pivot entity, made directly or through the m:n collection. */
  @Post('favorites')
  favorite(@Body() body: FavoriteBody): Promise<FavoriteResponse> {
    const ms = pauseOf(body.pause);
    return deadlockAs409(this.em.transactional(async (em) => {
      const author = await em.findOneOrFail(Author, body.authorId, body.via === 'collection' ? { populate: ['favorites'] } : {});
      const article = await em.findOneOrFail(Article, body.articleId, { populate: ['author'] });
      if (ms) await sleep(ms);
      if (body.via === 'collection') author.favorites.add(article);
      else em.create(Favorite, { author, article });
      await em.flush();
      const favorites = await em.count(Favorite, { author });
      return {
        tenant: this.tenancy.current().id,
        author: authorRef(author),
        article: { ...articleRef(article), author: authorRef(article.author.getEntity()) },
        favorites,
        loaded: body.via === 'collection' ? byId(author.favorites.getItems().map(articleRef)) : [],
      };
    }));
  }

  /**
   * A new author (with an embedded address and a 1:1 profile) who follows `follows` (self m:n insert from the new
   * owner), then is followed by `followedBy` (self m:n insert on an existing, populated collection).
   */
  @Post('follow')
  follow(@Body() body: FollowBody): Promise<FollowResponse> {
    const ms = pauseOf(body.pause);
    return deadlockAs409(this.em.transactional(async (em) => {
      const targets = await em.find(Author, { id: { $in: body.follows } });
      if (targets.length !== body.follows.length) throw new NotFoundException(`authors ${body.follows.join(',')}: found ${targets.map((a) => a.id).join(',')}`);
      if (ms) await sleep(ms);
      const author = em.create(Author, {
        id: body.id,
        username: body.username,
        email: body.email,
        displayName: body.displayName,
        address: { city: 'Soakville', country: body.country },
        following: targets,
      });
      const profile = em.create(Profile, { id: body.id, bio: body.bio, author });
      await em.flush();
      if (ms) await sleep(ms);
      const follower = await em.findOneOrFail(Author, body.followedBy, { populate: ['following'] });
      follower.following.add(author);
      await em.flush();
      return {
        tenant: this.tenancy.current().id,
        author: { ...authorRef(author), country: author.address.country, following: byId(author.following.getItems().map(authorRef)), profile: { id: profile.id, bio: profile.bio } },
        follower: { ...authorRef(follower), following: byId(follower.following.getItems().map(authorRef)) },
      };
    }));
  }

  /** A comment on an article (1:m insert), then the article's visible comments (default filter) counted and listed. */
  @Post('comments')
  comment(@Body() body: CommentBody): Promise<CommentResponse> {
    const ms = pauseOf(body.pause);
    return deadlockAs409(this.em.transactional(async (em) => {
      const article = await em.findOneOrFail(Article, body.articleId, { populate: ['author'] });
      const author = await em.findOneOrFail(Author, body.authorId);
      if (ms) await sleep(ms);
      const comment = em.create(Comment, { id: body.id, body: body.body, hidden: false, article, author });
      await em.flush();
      if (ms) await sleep(ms);
      const visible = await em.count(Comment, { article });
      const latest = await em.find(Comment, { article }, { populate: ['author'], orderBy: { id: 'desc' }, limit: 5 });
      return {
        tenant: this.tenancy.current().id,
        comment: { id: comment.id, body: comment.body, author: authorRef(author) },
        article: { ...articleRef(article), author: authorRef(article.author.getEntity()) },
        visible,
        latest: latest.map((c) => ({ id: c.id, body: c.body, author: authorRef(c.author) })),
      };
    }));
  }
}
