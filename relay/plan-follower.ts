import type { RingcastError } from '../common/errors.ts';
import type { CacheEntry } from './cache-entry.ts';
import type { ErrorPlan, ResponsePlan, SendPlan, StreamPlan } from './response-plan.ts';

/** What a front end gives `followEntry`: how to plan, and how to write each step of a plan. */
export interface PlanWriter {
  entry: CacheEntry;
  /** The plan for the entry as it is now (response-plan.ts). */
  plan(): ResponsePlan;
  /** The plan for a fill that failed. */
  planError(err: RingcastError): ErrorPlan;
  /** A whole answer, before anything was written. */
  answer(plan: SendPlan | ErrorPlan): void;
  /** The head of a cut-through answer. */
  start(plan: StreamPlan): void;
  /** Body bytes of a started answer, in order. */
  data(chunk: Buffer): void;
  /** The body of a started answer is whole. */
  end(): void;
  /** The fill failed after the head went out: a short body must never pass for a whole one. */
  cut(): void;
  /** Called once when the answer is written (or cut); the entry is no longer followed by then. */
  done(): void;
}

/**
 * Follows an entry that is not complete yet, from its first plan: the head once its status is known, the
 * bytes so far, then the rest as they arrive; or, for answers that need the whole object (ranges,
 * conditionals, 404s), one plan when it completes. The same steps on every front end. Returns a
 * function that stops following (a client gone), without calling `done`.
 */
export function followEntry(w: PlanWriter, first: ResponsePlan): () => void {
  let started: StreamPlan | undefined;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    unsubscribe();
    w.done();
  };
  const begin = (plan: ResponsePlan) => {
    if (started || plan.kind !== 'stream') return;
    started = plan;
    w.start(plan);
    if (!plan.body) finish();
    else for (const chunk of w.entry.received()) w.data(chunk);
  };
  const whole = (plan: ResponsePlan) => {
    if (plan.kind === 'send' || plan.kind === 'error') w.answer(plan);
    finish();
  };
  const unsubscribe = w.entry.subscribe({
    onStart: () => begin(w.plan()),
    onData: (chunk) => {
      if (started && !finished) w.data(chunk);
    },
    onEnd: () => {
      if (!started) whole(w.plan());
      else {
        w.end();
        finish();
      }
    },
    onError: (err) => {
      if (started) w.cut();
      else w.answer(w.planError(err));
      finish();
    },
  });
  if (first.kind === 'stream' || first.kind === 'wait') begin(first);
  else whole(first);
  return () => {
    finished = true;
    unsubscribe();
  };
}
