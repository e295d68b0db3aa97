/** A tenant lifecycle operation, as observers see it. */
export interface TenantOperation {
  readonly name: 'create' | 'drop' | 'suspend' | 'resume' | 'migrate' | 'move';
  /** The tenant's id; undefined when it broke the id rules (raw input is never handed to observers). */
  readonly tenantId: string | undefined;
  /** Migrations: 'up' or 'down'. */
  readonly direction?: 'up' | 'down';
}

/**
 * What the tracing and metrics integrations listen to. Every method is optional and called on the per-request path,
 * so it must be cheap and must not throw. Nothing here imports an optional peer: an app without them pays nothing.
 */
export interface TenancyObserver {
  /** A unit of work waits to enter its tenant (lookup, opening it, a pool slot); returns what to call when it stops waiting. */
  entering?(): () => void;
  /** A unit of tenant work (request, run, open, job, message) started in its tenant; may return what to call when it ends. */
  started?(tenantId: string): (() => void) | undefined;
  /** Entering a tenant was refused (the error carries the status: 400, 403, 404, 503). No id: it may be raw input. */
  refused?(error: unknown): void;
  /** Wraps a lifecycle operation (a span, outcome counters); must call `run` once and return or rethrow its outcome. */
  operation?<R>(operation: TenantOperation, run: () => Promise<R>): Promise<R>;
}

const noop = (): void => undefined;

/** The observers of one module instance (never module-global: two apps in one process keep theirs apart). */
export class TenancyObservers {
  #list: readonly TenancyObserver[] = [];

  /** Adds an observer; returns its removal. */
  add(observer: TenancyObserver): () => void {
    this.#list = [...this.#list, observer];
    return () => {
      this.#list = this.#list.filter((o) => o !== observer);
    };
  }

  /** Calls `enter` as a unit of work waiting to enter a tenant: observers see it wait, then start or be refused. */
  async entering<A extends { readonly id: string }>(enter: () => Promise<A>): Promise<A> {
    const list = this.#list;
    if (list.length === 0) return enter();
    const ends = list.map((o) => o.entering?.() ?? noop);
    try {
      return await enter();
    } catch (error) {
      for (const observer of list) observer.refused?.(error);
      throw error;
    } finally {
      for (const end of ends) end();
    }
  }

  /** A unit of tenant work started; returns `leave` extended with each observer's end (just `leave` without observers). */
  started(tenantId: string, leave: () => void): () => void {
    const list = this.#list;
    if (list.length === 0) return leave;
    const ends = list.map((o) => o.started?.(tenantId)).filter((end): end is () => void => end !== undefined);
    return ends.length === 0
      ? leave
      : () => {
          leave();
          for (const end of ends) end();
        };
  }

  /** Runs a lifecycle operation through every observer's wrapper (the first added is the outermost). */
  operation<R>(operation: TenantOperation, run: () => Promise<R>): Promise<R> {
    let wrapped = run;
    for (const observer of [...this.#list].reverse()) {
      if (!observer.operation) continue;
      const inner = wrapped;
      wrapped = () => observer.operation?.(operation, inner) ?? inner();
    }
    return wrapped();
  }
}
