/**
 * The relational soak's client side (issue 12): per-tenant books of what was asked and what was acknowledged, a
 * randomized HTTP workload on `SoakBlogController`, a judge for every response, and the final verdict read from
 * PostgreSQL with raw SQL.
 *
 * Ids made by the soak are `<tenant>-<platform letter><n>`, titles/display names/descriptions/bodies start with the
 * tenant's marker (its id), as do the seeded rows (`dataset(marker)`). A row belongs to tenant `t` when its text
 * column carries `t`'s marker AND its id is one of `t`'s seeded ids or one the soak sent for `t`; pivot rows must be
 * pairs the soak seeded or sent for `t`.
 *
 * Every set the judge uses has two sides: `attempted` (sent, whatever came of it: an aborted write may still commit)
 * bounds what the tenant may hold from above, and `acked` (a 2xx response whose body was read, stamped with a clock)
 * bounds from below what any request sent after the acknowledgement must see (read-your-acknowledged-writes).
 */
import type { Agent } from 'node:http';
import { type Dataset, TENANT_TABLES } from '../../fixtures/relational/dataset.js';
import type { Place, RawSql } from '../../fixtures/relational/places.js';
import { ownedBy } from '../../fixtures/shared-tables/places.js';
import { pick } from '../../support/load.js';
import { type Outcome, randomInt, send } from './soak.js';
import {
  type ArticleRef,
  type ArticleView,
  type AuthorRef,
  type AuthorResponse,
  type CommentBody,
  type CommentRef,
  type CommentResponse,
  type CreateArticleBody,
  type CreateArticleResponse,
  DEADLOCK,
  type FavoriteBody,
  type FavoriteResponse,
  type FollowBody,
  type FollowResponse,
  type ListResponse,
  STRATEGIES,
  type TagRef,
} from './soak-blog.controller.js';

/**
 * Where a tenant's rows are: its own tables (`{table}` is the place's schema-qualified table), or, in table mode
 * (`sharedTenantId`), the rows of the shared tables in the place's schema whose tenant_id is the tenant's (pivot
 * rows: those whose owning row is the tenant's).
 */
export type SoakPlace = Place & { sharedTenantId?: string };

/** `text` with each `{table}` replaced by the tenant's rows of that table (same name, so columns qualify as before). */
function tenantSql(place: SoakPlace, text: string): string {
  const tenantId = place.sharedTenantId;
  if (tenantId === undefined) return text;
  return text.replace(/\{([a-z_]+)\}/g, (_, table: string) => `(select * from "${place.schema}"."${table}" where ${ownedBy(table, tenantId)}) "${table}"`);
}

/** Global acknowledgement clock: an ack stamped `n` happened before every request sent when the clock was > n. */
let clock = 0;

const pair = (a: string, b: string) => `${a}>${b}`;

export interface AckedFacts {
  articles: Map<string, { title: string; authorId: string; tagIds: string[] }>;
  tags: Map<string, { name: string; description: string }>;
  authors: Map<string, { username: string; displayName: string; country: string; bio: string; follows: string[]; followedBy: string }>;
  comments: Map<string, { body: string; articleId: string; authorId: string }>;
  favorites: Set<string>;
}

/** What the soak knows about one tenant. */
export class TenantBook {
  readonly #attempted = new Map<string, Set<string>>();
  readonly #acked = new Map<string, Map<string, number>>();
  /** Rows any new request may reference: seeded or acknowledged. */
  readonly authors: string[];
  readonly articles: string[];
  readonly tags: string[];
  /** Favorite pairs seeded or sent (a pair is sent once: a second insert would be a primary key conflict). */
  readonly favoritePairs = new Set<string>();
  readonly facts: AckedFacts = { articles: new Map(), tags: new Map(), authors: new Map(), comments: new Map(), favorites: new Set() };
  #sequence = 0;

  constructor(
    readonly id: string,
    readonly place: SoakPlace,
    readonly ds: Dataset,
  ) {
    this.authors = ds.authors.map((a) => a.id);
    this.articles = ds.articles.map((a) => a.id);
    this.tags = ds.tags.map((t) => t.id);
    const seed = (key: string, member: string) => {
      this.attempt(key, member);
      this.#ackedSet(key).set(member, 0);
    };
    for (const a of ds.authors) seed('authors', a.id);
    for (const p of ds.profiles) seed(`profile:${p.authorId}`, p.id);
    for (const t of ds.tags) seed('tags', t.id);
    for (const a of ds.articles) {
      seed('articles', a.id);
      seed(`articles@author:${a.authorId}`, a.id);
    }
    for (const [articleId, tagId] of ds.articleTags) {
      seed(`tags@article:${articleId}`, tagId);
      seed(`articles@tag:${tagId}`, articleId);
    }
    for (const c of ds.comments) {
      seed('comments', c.id);
      if (!c.hidden) seed(`comments@article:${c.articleId}`, c.id);
    }
    for (const [from, to] of ds.following) {
      seed(`following:${from}`, to);
      seed(`followers:${to}`, from);
    }
    for (const f of ds.favorites) {
      seed(`favorites@author:${f.authorId}`, f.articleId);
      this.favoritePairs.add(pair(f.authorId, f.articleId));
    }
  }

  nextId(platformLetter: string): string {
    return `${this.id}-${platformLetter}${++this.#sequence}`;
  }

  attempt(key: string, member: string): void {
    let set = this.#attempted.get(key);
    if (!set) this.#attempted.set(key, (set = new Set()));
    set.add(member);
  }

  ack(key: string, member: string): void {
    const acked = this.#ackedSet(key);
    if (!acked.has(member)) acked.set(member, ++clock);
  }

  /** Everything sent for the tenant under `key` so far (seeded included). */
  attempted(key: string): ReadonlySet<string> {
    return this.#attempted.get(key) ?? new Set();
  }

  /** Members of `key` acknowledged before `sentAt` (a clock reading taken when the request was sent). */
  ackedBefore(key: string, sentAt: number): Set<string> {
    const result = new Set<string>();
    for (const [member, at] of this.#acked.get(key) ?? []) if (at <= sentAt) result.add(member);
    return result;
  }

  #ackedSet(key: string): Map<string, number> {
    let map = this.#acked.get(key);
    if (!map) this.#acked.set(key, (map = new Map()));
    return map;
  }
}

export const now = (): number => clock;

/** Findings of the judge: rows of another tenant (or of nowhere) served to a tenant, and broken read-your-writes bounds. */
export interface Findings {
  foreign: string[];
  inconsistent: string[];
}

/** Judges one response of tenant `book`: every row must be the tenant's; counts and sets within their bounds. */
export class Judge {
  constructor(
    private readonly book: TenantBook,
    private readonly what: string,
    private readonly findings: Findings,
  ) {}

  private foreign(detail: string, row: unknown) {
    this.findings.foreign.push(`${this.what} as '${this.book.id}': ${detail}: ${JSON.stringify(row).slice(0, 300)}`);
  }

  private inconsistent(detail: string) {
    this.findings.inconsistent.push(`${this.what} as '${this.book.id}': ${detail}`);
  }

  tenant(served: string) {
    if (served !== this.book.id) this.foreign(`served as tenant '${served}'`, served);
  }

  private marked(text: string, separator: ' ' | ':') {
    return typeof text === 'string' && text.startsWith(`${this.book.id}${separator}`);
  }

  author(row: AuthorRef) {
    if (!this.book.attempted('authors').has(row.id)) this.foreign('an author the tenant never had', row);
    else if (!this.marked(row.displayName, ':')) this.foreign("an author row with another place's marker", row);
  }

  article(row: ArticleRef) {
    if (!this.book.attempted('articles').has(row.id)) this.foreign('an article the tenant never had', row);
    else if (!this.marked(row.title, ' ')) this.foreign("an article row with another place's marker", row);
  }

  tag(row: TagRef) {
    if (!this.book.attempted('tags').has(row.id)) this.foreign('a tag the tenant never had', row);
    else if (!this.marked(row.description, ' ')) this.foreign("a tag row with another place's marker", row);
  }

  profile(row: { id: string; bio: string }, authorId: string) {
    if (!this.book.attempted(`profile:${authorId}`).has(row.id)) this.foreign(`a profile of ${authorId} the tenant never had`, row);
    else if (!this.marked(row.bio, ' ')) this.foreign("a profile row with another place's marker", row);
  }

  comment(row: CommentRef) {
    if (!this.book.attempted('comments').has(row.id)) this.foreign('a comment the tenant never had', row);
    else if (!this.marked(row.body, ' ')) this.foreign("a comment row with another place's marker", row);
    this.author(row.author);
  }

  /** An article with its author and tags: the author must be the one it was written with, the tags exactly its own. */
  articleView(row: ArticleView, sentAt: number) {
    this.article(row);
    this.author(row.author);
    for (const tag of row.tags) this.tag(tag);
    if (!this.book.attempted(`articles@author:${row.author.id}`).has(row.id)) this.inconsistent(`article ${row.id} joined to author ${row.author.id}`);
    // an article and its tags are written in one transaction: visible together, never partly
    this.sameSet(`tags of ${row.id}`, row.tags.map((t) => t.id), this.book.attempted(`tags@article:${row.id}`));
    if (row.commentCount !== null) this.count(`commentCount of ${row.id}`, row.commentCount, `comments@article:${row.id}`, sentAt);
  }

  /** `actual` lies between what was acknowledged before the request and what was ever sent. */
  count(label: string, actual: number, key: string, sentAt: number, extra = 0) {
    const low = this.book.ackedBefore(key, sentAt).size + extra;
    const high = this.book.attempted(key).size;
    if (typeof actual !== 'number' || actual < low || actual > high) this.inconsistent(`${label} = ${actual}, expected ${low}..${high}`);
  }

  /** The ids contain every one acknowledged before the request (plus `plus`) and none that was never sent. */
  between(label: string, ids: string[], key: string, sentAt: number, plus: string[] = []) {
    const low = this.book.ackedBefore(key, sentAt);
    for (const id of plus) low.add(id);
    const high = this.book.attempted(key);
    const got = new Set(ids);
    const missing = [...low].filter((id) => !got.has(id));
    const unknown = ids.filter((id) => !high.has(id));
    if (missing.length || unknown.length) this.inconsistent(`${label}: missing acknowledged ${JSON.stringify(missing)}, never sent ${JSON.stringify(unknown)}`);
  }

  /** Every id is one that was sent under `key` (no lower bound: e.g. a limited page). */
  subset(label: string, ids: string[], key: string) {
    const high = this.book.attempted(key);
    const unknown = ids.filter((id) => !high.has(id));
    if (unknown.length) this.inconsistent(`${label}: never sent ${JSON.stringify(unknown)}`);
  }

  sameSet(label: string, ids: string[], expected: ReadonlySet<string>) {
    const got = [...new Set(ids)].sort();
    const want = [...expected].sort();
    if (JSON.stringify(got) !== JSON.stringify(want)) this.inconsistent(`${label}: ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  }
}

export type Kind = 'list' | 'author' | 'article' | 'favorite' | 'follow' | 'comment';
const KINDS: Kind[] = ['list', 'list', 'list', 'author', 'author', 'article', 'article', 'favorite', 'favorite', 'follow', 'comment', 'comment'];
export const WRITE_KINDS: Kind[] = ['article', 'favorite', 'follow', 'comment'];

export interface Figures {
  platform: string;
  requests: number;
  ok: number;
  aborted: number;
  /** Write transactions PostgreSQL broke as deadlock victims (409 `deadlock`: rolled back, not acknowledged). */
  deadlocks: string[];
  /** Writes acknowledged, by kind. */
  writes: Record<string, number>;
  byKind: Record<string, number>;
  byStrategy: Record<string, number>;
  /** Mean latency (ms) of the completed (not aborted) requests, by kind: for the summary only, never asserted. */
  meanMs: Record<string, number>;
  errors: string[];
  findings: Findings;
}

interface Planned {
  kind: Kind;
  method: 'GET' | 'POST';
  path: string;
  json?: unknown;
  /** Judges a 2xx body and records acknowledged writes. */
  accept(judge: Judge, body: unknown, sentAt: number): void;
}

/** One random request for `book`, or undefined when the chosen kind has nothing left to do (e.g. no free favorite pair). */
function plan(book: TenantBook, platform: string, kind: Kind): Planned | undefined {
  const letter = platform[0] as string;
  const pause = pick([0, 0, randomInt(1, 8), randomInt(5, 25)]);
  if (kind === 'list') {
    const strategy = pick(STRATEGIES);
    const byAuthor = Math.random() < 0.3 ? pick(book.ds.authors) : undefined;
    const tagId = pick(book.tags);
    const query = new URLSearchParams({ strategy, tagId, pause: String(pause), ...(byAuthor ? { username: byAuthor.username } : {}) });
    return {
      kind,
      method: 'GET',
      path: `/soak/articles?${query}`,
      accept(judge, raw, sentAt) {
        const body = raw as ListResponse;
        judge.tenant(body.tenant);
        for (const article of body.articles) {
          judge.articleView(article, sentAt);
          if (byAuthor && article.author.id !== byAuthor.id) judge.sameSet(`author of ${article.id} (filtered by ${byAuthor.username})`, [article.author.id], new Set([byAuthor.id]));
        }
        judge.count(byAuthor ? `total of ${byAuthor.username}` : 'total', body.total, byAuthor ? `articles@author:${byAuthor.id}` : 'articles', sentAt);
        judge.count(`articles tagged ${tagId}`, body.tagged, `articles@tag:${tagId}`, sentAt);
        judge.count('tags', body.tags, 'tags', sentAt);
      },
    };
  }
  if (kind === 'author') {
    const id = pick(book.authors);
    const strategy = pick(STRATEGIES);
    return {
      kind,
      method: 'GET',
      path: `/soak/authors/${encodeURIComponent(id)}?strategy=${strategy}`,
      accept(judge, raw, sentAt) {
        const body = raw as AuthorResponse;
        judge.tenant(body.tenant);
        judge.author(body.author);
        if (body.author.id !== id) judge.sameSet('author id', [body.author.id], new Set([id]));
        if (body.author.country !== book.id) judge.sameSet(`country of ${id}`, [body.author.country], new Set([book.id]));
        judge.between(`profile of ${id}`, body.author.profile ? [body.author.profile.id] : [], `profile:${id}`, sentAt);
        if (body.author.profile) judge.profile(body.author.profile, id);
        for (const a of [...body.following, ...body.followers]) judge.author(a);
        for (const a of [...body.favorites, ...body.articles]) judge.article(a);
        judge.between(`following of ${id}`, body.following.map((a) => a.id), `following:${id}`, sentAt);
        judge.between(`followers of ${id}`, body.followers.map((a) => a.id), `followers:${id}`, sentAt);
        judge.between(`favorites of ${id}`, body.favorites.map((a) => a.id), `favorites@author:${id}`, sentAt);
        judge.between(`articles of ${id}`, body.articles.map((a) => a.id), `articles@author:${id}`, sentAt);
      },
    };
  }
  if (kind === 'article') {
    const id = book.nextId(letter);
    const authorId = pick(book.authors);
    const tagIds = [...new Set(Array.from({ length: randomInt(1, 3) }, () => pick(book.tags)))];
    const newTag = Math.random() < 0.25 ? { id, name: `tag-${id}`, description: `${book.id} tag ${id}` } : undefined;
    const allTags = [...tagIds, ...(newTag ? [newTag.id] : [])];
    const json: CreateArticleBody = { id, title: `${book.id} soak ${platform} ${id}`, published: Math.random() < 0.5, authorId, tagIds, newTag, pause };
    book.attempt('articles', id);
    book.attempt(`articles@author:${authorId}`, id);
    for (const tagId of allTags) {
      book.attempt(`tags@article:${id}`, tagId);
      book.attempt(`articles@tag:${tagId}`, id);
    }
    if (newTag) book.attempt('tags', newTag.id);
    return {
      kind,
      method: 'POST',
      path: '/soak/articles',
      json,
      accept(judge, raw, sentAt) {
        const body = raw as CreateArticleResponse;
        judge.tenant(body.tenant);
        judge.articleView(body.article, sentAt);
        judge.sameSet(`article written as ${id}`, [`${body.article.id}|${body.article.title}|${body.article.author.id}`], new Set([`${id}|${json.title}|${authorId}`]));
        judge.count(`articles of ${authorId} after writing ${id}`, body.byAuthor, `articles@author:${authorId}`, sentAt, 1);
        book.facts.articles.set(id, { title: json.title, authorId, tagIds: allTags.sort() });
        if (newTag) book.facts.tags.set(newTag.id, { name: newTag.name, description: newTag.description });
        book.ack('articles', id);
        book.ack(`articles@author:${authorId}`, id);
        for (const tagId of allTags) {
          book.ack(`tags@article:${id}`, tagId);
          book.ack(`articles@tag:${tagId}`, id);
        }
        if (newTag) {
          book.ack('tags', newTag.id);
          book.tags.push(newTag.id);
        }
        book.articles.push(id);
      },
    };
  }
  if (kind === 'favorite') {
    let authorId = '';
    let articleId = '';
    for (let attempt = 0; attempt < 10 && !articleId; attempt++) {
      const a = pick(book.authors);
      const ar = pick(book.articles);
      if (!book.favoritePairs.has(pair(a, ar))) [authorId, articleId] = [a, ar];
    }
    if (!articleId) return undefined;
    book.favoritePairs.add(pair(authorId, articleId));
    book.attempt(`favorites@author:${authorId}`, articleId);
    const json: FavoriteBody = { authorId, articleId, via: pick(['entity', 'collection'] as const), pause };
    return {
      kind,
      method: 'POST',
      path: '/soak/favorites',
      json,
      accept(judge, raw, sentAt) {
        const body = raw as FavoriteResponse;
        judge.tenant(body.tenant);
        judge.author(body.author);
        judge.article(body.article);
        judge.author(body.article.author);
        judge.sameSet('favorite written', [`${body.author.id}>${body.article.id}`], new Set([pair(authorId, articleId)]));
        judge.count(`favorites of ${authorId} after favoring ${articleId}`, body.favorites, `favorites@author:${authorId}`, sentAt, 1);
        for (const a of body.loaded) judge.article(a);
        if (json.via === 'collection') judge.between(`favorites of ${authorId} (collection)`, body.loaded.map((a) => a.id), `favorites@author:${authorId}`, sentAt, [articleId]);
        book.facts.favorites.add(pair(authorId, articleId));
        book.ack(`favorites@author:${authorId}`, articleId);
      },
    };
  }
  if (kind === 'follow') {
    const id = book.nextId(letter);
    const follows = [...new Set([pick(book.authors), pick(book.authors)])].sort();
    const followedBy = pick(book.authors);
    const json: FollowBody = {
      id,
      username: `u-${id}`,
      email: `${id}@soak.test`,
      displayName: `${book.id}:u-${id}`,
      country: book.id,
      bio: `${book.id} bio ${id}`,
      follows,
      followedBy,
      pause,
    };
    book.attempt('authors', id);
    book.attempt(`profile:${id}`, id);
    for (const to of follows) {
      book.attempt(`following:${id}`, to);
      book.attempt(`followers:${to}`, id);
    }
    book.attempt(`following:${followedBy}`, id);
    book.attempt(`followers:${id}`, followedBy);
    return {
      kind,
      method: 'POST',
      path: '/soak/follow',
      json,
      accept(judge, raw, sentAt) {
        const body = raw as FollowResponse;
        judge.tenant(body.tenant);
        judge.author(body.author);
        judge.author(body.follower);
        for (const a of [...body.author.following, ...body.follower.following]) judge.author(a);
        judge.profile(body.author.profile, id);
        judge.sameSet('author written', [`${body.author.id}|${body.author.displayName}|${body.author.country}|${body.author.profile.bio}`], new Set([`${id}|${json.displayName}|${book.id}|${json.bio}`]));
        judge.sameSet(`following of new ${id}`, body.author.following.map((a) => a.id), new Set(follows));
        judge.between(`following of ${followedBy} after it followed ${id}`, body.follower.following.map((a) => a.id), `following:${followedBy}`, sentAt, [id]);
        book.facts.authors.set(id, { username: json.username, displayName: json.displayName, country: book.id, bio: json.bio, follows, followedBy });
        book.ack('authors', id);
        book.ack(`profile:${id}`, id);
        for (const to of follows) {
          book.ack(`following:${id}`, to);
          book.ack(`followers:${to}`, id);
        }
        book.ack(`following:${followedBy}`, id);
        book.ack(`followers:${id}`, followedBy);
        book.authors.push(id);
      },
    };
  }
  // comment
  const id = book.nextId(letter);
  const articleId = pick(book.articles);
  const authorId = pick(book.authors);
  const json: CommentBody = { id, body: `${book.id} comment ${id}`, articleId, authorId, pause };
  book.attempt('comments', id);
  book.attempt(`comments@article:${articleId}`, id);
  return {
    kind,
    method: 'POST',
    path: '/soak/comments',
    json,
    accept(judge, raw, sentAt) {
      const body = raw as CommentResponse;
      judge.tenant(body.tenant);
      judge.comment(body.comment);
      judge.article(body.article);
      judge.author(body.article.author);
      for (const c of body.latest) judge.comment(c);
      judge.sameSet('comment written', [`${body.comment.id}|${body.comment.body}|${body.comment.author.id}|${body.article.id}`], new Set([`${id}|${json.body}|${authorId}|${articleId}`]));
      judge.count(`visible comments of ${articleId} after writing ${id}`, body.visible, `comments@article:${articleId}`, sentAt, 1);
      judge.subset(`latest comments of ${articleId}`, body.latest.map((c) => c.id), `comments@article:${articleId}`);
      book.facts.comments.set(id, { body: json.body, articleId, authorId });
      book.ack('comments', id);
      book.ack(`comments@article:${articleId}`, id);
    },
  };
}

/**
 * Runs `clients` concurrent loops of random requests over random tenants until `requests` were sent (a count, never a
 * clock: a slow machine takes longer, it does not do less); a fifth of them aborted by the client after 1-40 ms.
 */
export async function runWorkload(options: { url: string; platform: string; books: TenantBook[]; agent: Agent; clients: number; requests: number }): Promise<Figures> {
  const { url, platform, books, agent, clients, requests } = options;
  let issued = 0;
  const figures: Figures = { platform, requests: 0, ok: 0, aborted: 0, deadlocks: [], writes: {}, byKind: {}, byStrategy: {}, meanMs: {}, errors: [], findings: { foreign: [], inconsistent: [] } };
  const completed: Record<string, number> = {};
  const client = async () => {
    while (issued < requests) {
      const book = pick(books);
      const planned = plan(book, platform, pick(KINDS));
      if (!planned) continue;
      issued++;
      const abortAfter = Math.random() < 0.2 ? randomInt(1, 40) : undefined;
      const sentAt = now();
      const started = performance.now();
      const outcome: Outcome = await send(
        url + planned.path,
        { method: planned.method, headers: { 'x-tenant-id': book.id }, ...(planned.json === undefined ? {} : { json: planned.json }), agent },
        abortAfter,
      );
      figures.requests++;
      if (outcome.kind !== 'aborted') {
        const n = (completed[planned.kind] = (completed[planned.kind] ?? 0) + 1);
        const mean = figures.meanMs[planned.kind] ?? 0;
        figures.meanMs[planned.kind] = mean + (performance.now() - started - mean) / n;
      }
      figures.byKind[planned.kind] = (figures.byKind[planned.kind] ?? 0) + 1;
      const strategy = /strategy=([a-z-]+)/.exec(planned.path)?.[1];
      if (strategy) figures.byStrategy[strategy] = (figures.byStrategy[strategy] ?? 0) + 1;
      if (outcome.kind === 'aborted') figures.aborted++;
      else if (outcome.kind === 'error') figures.errors.push(`${planned.kind} as '${book.id}': ${outcome.detail}`);
      else if (outcome.status === 409 && (outcome.body as { message?: string } | undefined)?.message === DEADLOCK) {
        figures.deadlocks.push(`${planned.kind} as '${book.id}': ${(outcome.body as { detail?: string }).detail ?? ''}`);
      } else if (outcome.status !== (planned.method === 'POST' ? 201 : 200)) {
        figures.errors.push(`${planned.kind} as '${book.id}' ${planned.method} ${planned.path}: HTTP ${outcome.status} ${JSON.stringify(outcome.body).slice(0, 400)}`);
      } else {
        figures.ok++;
        planned.accept(new Judge(book, `${planned.kind} ${planned.method} ${planned.path}`, figures.findings), outcome.body, sentAt);
        if (WRITE_KINDS.includes(planned.kind)) figures.writes[planned.kind] = (figures.writes[planned.kind] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  for (const kind of Object.keys(figures.meanMs)) figures.meanMs[kind] = Math.round(figures.meanMs[kind] as number);
  return figures;
}

export interface Verdict {
  rowsChecked: number;
  ackedChecked: number;
  /** Rows in a tenant's tables that are not that tenant's (marker, id or pair never sent for it). */
  foreign: string[];
  /** Acknowledged writes missing from (or different in) their tenant's tables. */
  lost: string[];
}

/** Reads every tenant table of every tenant with raw SQL and judges it against the books. */
export async function verifyInPostgres(raw: RawSql, books: TenantBook[]): Promise<Verdict> {
  const verdict: Verdict = { rowsChecked: 0, ackedChecked: 0, foreign: [], lost: [] };
  for (const book of books) {
    const t = book.id;
    const place = book.place;
    const where = `${place.db}/${place.schema}`;
    const q = <R extends Record<string, unknown>>(text: string) => raw.rows<R>(place, tenantSql(place, text));
    const authors = await q<{ id: string; username: string; display_name: string; address_country: string }>('select id, username, display_name, address_country from {author}');
    const profiles = await q<{ id: string; bio: string; author_id: string }>('select id, bio, author_id from {profile}');
    const tags = await q<{ id: string; name: string; description: string }>('select id, name, description from {tag}');
    const articles = await q<{ id: string; title: string; author_id: string }>('select id, title, author_id from {article}');
    const articleTags = await q<{ article_id: string; tag_id: string }>('select article_id, tag_id from {article_tags}');
    const comments = await q<{ id: string; body: string; article_id: string; author_id: string }>('select id, body, article_id, author_id from {comment}');
    const following = await q<{ author_1_id: string; author_2_id: string }>('select author_1_id, author_2_id from {author_following}');
    const favorites = await q<{ author_id: string; article_id: string }>('select author_id, article_id from {favorite}');
    const contents = await q<{ id: string; body: string }>('select id, body from {content}');
    verdict.rowsChecked += [authors, profiles, tags, articles, articleTags, comments, following, favorites, contents].reduce((n, rows) => n + rows.length, 0);

    const foreign = (table: string, row: unknown, why: string) => verdict.foreign.push(`${where}.${table} (tenant ${t}): ${why}: ${JSON.stringify(row)}`);
    const marked = (text: string, separator: string) => text.startsWith(`${t}${separator}`);
    for (const r of authors) {
      if (!book.attempted('authors').has(r.id)) foreign('author', r, 'id never sent for the tenant');
      else if (!marked(r.display_name, ':') || r.address_country !== t) foreign('author', r, 'marker');
    }
    for (const r of profiles) {
      if (!book.attempted(`profile:${r.author_id}`).has(r.id)) foreign('profile', r, 'profile never sent for the tenant');
      else if (!marked(r.bio, ' ')) foreign('profile', r, 'marker');
    }
    for (const r of tags) {
      if (!book.attempted('tags').has(r.id)) foreign('tag', r, 'id never sent for the tenant');
      else if (!marked(r.description, ' ')) foreign('tag', r, 'marker');
    }
    for (const r of articles) {
      if (!book.attempted(`articles@author:${r.author_id}`).has(r.id)) foreign('article', r, 'article (with this author) never sent for the tenant');
      else if (!marked(r.title, ' ')) foreign('article', r, 'marker');
    }
    for (const r of comments) {
      if (!book.attempted('comments').has(r.id)) foreign('comment', r, 'id never sent for the tenant');
      else if (!marked(r.body, ' ')) foreign('comment', r, 'marker');
    }
    for (const r of contents) if (!book.ds.contents.some((c) => c.id === r.id && c.body === r.body)) foreign('content', r, 'not a seeded row of the tenant');
    for (const r of articleTags) if (!book.attempted(`tags@article:${r.article_id}`).has(r.tag_id)) foreign('article_tags', r, 'pair never sent for the tenant');
    for (const r of following) if (!book.attempted(`following:${r.author_1_id}`).has(r.author_2_id)) foreign('author_following', r, 'pair never sent for the tenant');
    for (const r of favorites) if (!book.favoritePairs.has(pair(r.author_id, r.article_id))) foreign('favorite', r, 'pair never sent for the tenant');

    const lost = (what: string, found: unknown) => verdict.lost.push(`${where} (tenant ${t}): ${what}, found ${JSON.stringify(found)}`);
    const articleById = new Map(articles.map((r) => [r.id, r]));
    const tagsOf = new Map<string, string[]>();
    for (const r of articleTags) tagsOf.set(r.article_id, [...(tagsOf.get(r.article_id) ?? []), r.tag_id]);
    for (const [id, fact] of book.facts.articles) {
      verdict.ackedChecked++;
      const row = articleById.get(id);
      const rowTags = (tagsOf.get(id) ?? []).sort();
      if (row?.title !== fact.title || row.author_id !== fact.authorId || JSON.stringify(rowTags) !== JSON.stringify(fact.tagIds)) {
        lost(`article ${id} '${fact.title}' by ${fact.authorId} tagged ${fact.tagIds.join(',')}`, { row, tags: rowTags });
      }
    }
    const tagById = new Map(tags.map((r) => [r.id, r]));
    for (const [id, fact] of book.facts.tags) {
      verdict.ackedChecked++;
      const row = tagById.get(id);
      if (row?.name !== fact.name || row.description !== fact.description) lost(`tag ${id}`, row);
    }
    const authorById = new Map(authors.map((r) => [r.id, r]));
    const profileByAuthor = new Map(profiles.map((r) => [r.author_id, r]));
    const followingPairs = new Set(following.map((r) => pair(r.author_1_id, r.author_2_id)));
    for (const [id, fact] of book.facts.authors) {
      verdict.ackedChecked++;
      const row = authorById.get(id);
      const profile = profileByAuthor.get(id);
      const missingPairs = [...fact.follows.map((to) => pair(id, to)), pair(fact.followedBy, id)].filter((p) => !followingPairs.has(p));
      if (row?.display_name !== fact.displayName || row.username !== fact.username || row.address_country !== fact.country || profile?.bio !== fact.bio || missingPairs.length) {
        lost(`author ${id} (profile, follows ${fact.follows.join(',')}, followed by ${fact.followedBy})`, { row, profile, missingPairs });
      }
    }
    const commentById = new Map(comments.map((r) => [r.id, r]));
    for (const [id, fact] of book.facts.comments) {
      verdict.ackedChecked++;
      const row = commentById.get(id);
      if (row?.body !== fact.body || row.article_id !== fact.articleId || row.author_id !== fact.authorId) lost(`comment ${id}`, row);
    }
    const favoritePairs = new Set(favorites.map((r) => pair(r.author_id, r.article_id)));
    for (const favorite of book.facts.favorites) {
      verdict.ackedChecked++;
      if (!favoritePairs.has(favorite)) lost(`favorite ${favorite}`, null);
    }
  }
  return verdict;
}

export const ackedWrites = (books: TenantBook[]) =>
  books.reduce(
    (sum, b) => ({
      articles: sum.articles + b.facts.articles.size,
      favorites: sum.favorites + b.facts.favorites.size,
      follows: sum.follows + b.facts.authors.size,
      comments: sum.comments + b.facts.comments.size,
    }),
    { articles: 0, favorites: 0, follows: 0, comments: 0 },
  );

/** Every row of a place's tenant tables, keyed by table and content, with its row version (xmin). */
export async function rowVersions(raw: RawSql, place: SoakPlace): Promise<Map<string, string>> {
  const tenantId = place.sharedTenantId;
  const parts = TENANT_TABLES.map(
    (t) => `select '${t}' as t, xmin::text as v, to_jsonb(r)::text as row from {${t}} r${tenantId === undefined ? '' : ` where ${ownedBy(t, tenantId)}`}`,
  );
  const rows = await raw.rows<{ t: string; v: string; row: string }>(place, parts.join(' union all '));
  return new Map(rows.map((r) => [`${r.t} ${r.row}`, r.v]));
}

/**
 * The seeded rows of a tenant after the soak, against their versions before it. The soak only inserts: a seeded row
 * whose content changed (or vanished) is data the soak never wrote; one with the same content but a new row version
 * was rewritten by an UPDATE nobody asked for.
 */
export async function seedRowChanges(raw: RawSql, book: TenantBook, before: Map<string, string>): Promise<{ changed: string[]; rewritten: string[] }> {
  const after = await rowVersions(raw, book.place);
  const changed: string[] = [];
  const rewritten: string[] = [];
  for (const [key, version] of before) {
    const now = after.get(key);
    if (now === undefined) changed.push(`${book.id}: ${key}`);
    else if (now !== version) rewritten.push(`${book.id}: ${key.split(' ')[0]} ${key.slice(key.indexOf(' ') + 1, key.indexOf(' ') + 80)}`);
  }
  return { changed, rewritten };
}
