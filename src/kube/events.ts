/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are classes used as plain shapes: its serializer reads fields, never prototypes, and its own docs pass object literals. */
import { V1MicroTime, type EventsV1Event } from '@kubernetes/client-node';
import type { EventSink } from '../lib/events.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import { withDeadline, type KubeClient } from './client.js';
import { describeApiError } from './errors.js';

export interface KubeEventSinkOptions {
  readonly client: KubeClient;
  readonly nodeName: string;
  /** The agent's pod (Downward API); absent: events are about the Node. */
  readonly pod?: { readonly name: string; readonly namespace: string } | undefined;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** The same (type, reason, message) is posted at most once per window. Default 10 min. */
  readonly dedupeWindowMs?: number;
  /** At most this many events per minute; more are logged and dropped. Default 10. */
  readonly perMinute?: number;
  readonly now?: () => number;
}

export const reportingController = 'node-ca.alauda.io/agent';

/**
 * Kubernetes Events (events.k8s.io/v1) about the agent's pod, or the Node
 * when the pod is unknown. Deduplicated (one event per condition per window,
 * whatever the resync count) and rate-limited, so a flapping condition on
 * 5,000 nodes cannot flood the API. Posting never blocks nor throws.
 */
export function createKubeEventSink(o: KubeEventSinkOptions): EventSink & { readonly remembered: number } {
  const now = o.now ?? Date.now;
  const window = o.dedupeWindowMs ?? 10 * 60_000;
  const perMinute = o.perMinute ?? 10;
  const lastPosted = new Map<string, number>();
  let sent: number[] = [];
  const regarding = o.pod
    ? { apiVersion: 'v1', kind: 'Pod', name: o.pod.name, namespace: o.pod.namespace }
    : { apiVersion: 'v1', kind: 'Node', name: o.nodeName };
  const namespace = o.pod?.namespace ?? 'default';

  function admit(id: string, t: number): boolean {
    forgetExpired(t);
    if (lastPosted.has(id)) return false;
    sent = sent.filter((s) => t - s < 60_000);
    if (sent.length >= perMinute) {
      o.logger.warn({ event: id }, 'Kubernetes event dropped: rate limit');
      return false;
    }
    sent.push(t);
    lastPosted.set(id, t);
    return true;
  }

  /**
   * Conditions posted a window ago or more are forgotten: the map holds at
   * most a window's worth of posts (perMinute × window), not every message
   * the agent ever posted (a message that changes with each occurrence would
   * otherwise grow it for the life of the pod). Entries are added in time
   * order and never updated in place, so the expired ones are at the front.
   */
  function forgetExpired(t: number): void {
    for (const [id, posted] of lastPosted) {
      if (t - posted < window) return;
      lastPosted.delete(id);
    }
  }

  function post(type: 'Warning' | 'Normal', reason: string, message: string): void {
    const t = now();
    if (!admit(`${type}|${reason}|${message}`, t)) return;
    const body: EventsV1Event = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { generateName: `${regarding.name}.`, namespace },
      eventTime: new V1MicroTime(t),
      type,
      reason,
      action: reason,
      note: message.slice(0, 1024),
      regarding,
      reportingController,
      reportingInstance: `${reportingController}-${o.nodeName}`.slice(0, 128),
    };
    o.client.events.createNamespacedEvent({ namespace, body }, withDeadline()).catch((err: unknown) => {
      o.metrics.apiErrors.inc({ operation: 'create event' });
      o.logger.warn({ err: describeApiError(err), reason }, 'cannot post Kubernetes event');
    });
  }

  return {
    /** Conditions in the dedupe memory now (at most a window's worth of posts). */
    get remembered() {
      return lastPosted.size;
    },
    warning: (reason, message) => {
      post('Warning', reason, message);
    },
    normal: (reason, message) => {
      post('Normal', reason, message);
    },
  };
}
