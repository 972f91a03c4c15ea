// The driver's view of the cluster: one list+watch each for Sandbox CRs, their pods and the
// namespace's Events. Get/List read from here; every change is turned into WatchSandboxes events
// for the hub. Observation is a pure function of (CR, pod), so a snapshot is re-sent only when
// what the gateway would see actually changed.
import { create, equals } from "@bufbuild/protobuf";
import type { CoreV1Event, V1Pod } from "@kubernetes/client-node";
import {
  DriverSandboxSchema,
  WatchSandboxesEventSchema,
  type DriverSandbox,
  type WatchSandboxesEvent,
} from "../gen/compute_driver_pb";
import { Informer, type InformerEvent, type KubeClient } from "../kube";
import { logger } from "../log";
import { managedSelector, observeSandbox, platformEventFor, sandboxIdOf, type SandboxResource } from "../sandbox";
import type { RenderSettings } from "../sandbox/settings";
import type { WatchHub } from "./watch-hub";

const log = logger("cache");

export function sandboxesPath(settings: Pick<RenderSettings, "apiVersion" | "namespace">): string {
  return `/apis/agents.x-k8s.io/${settings.apiVersion}/namespaces/${settings.namespace}/sandboxes`;
}

export class SandboxCache {
  readonly #hub: WatchHub;
  readonly #sandboxes: Informer<SandboxResource>;
  readonly #pods: Informer<V1Pod>;
  readonly #events: Informer<CoreV1Event>;
  /** sandbox id → CR name, and the last snapshot sent to streams for that id. */
  readonly #crNameById = new Map<string, string>();
  readonly #idByCrName = new Map<string, string>();
  readonly #podNameById = new Map<string, string>();
  readonly #idByPodName = new Map<string, string>();
  readonly #lastSent = new Map<string, DriverSandbox>();
  readonly #namespace: string;

  constructor(client: KubeClient, settings: RenderSettings, hub: WatchHub) {
    this.#hub = hub;
    this.#namespace = settings.namespace;
    const selector = managedSelector(settings.gatewayId);
    this.#sandboxes = new Informer<SandboxResource>({
      client,
      resource: "sandboxes",
      listPath: sandboxesPath(settings),
      labelSelector: selector,
      onEvent: (ev) => this.#onSandbox(ev),
    });
    this.#pods = new Informer<V1Pod>({
      client,
      resource: "pods",
      listPath: `/api/v1/namespaces/${settings.namespace}/pods`,
      labelSelector: selector,
      onEvent: (ev) => this.#onPod(ev),
    });
    this.#events = new Informer<CoreV1Event>({
      client,
      resource: "events",
      listPath: `/api/v1/namespaces/${settings.namespace}/events`,
      onEvent: (ev) => this.#onKubeEvent(ev),
    });
  }

  /** Pods first, so a CR's first snapshot already sees its pod when both exist. */
  get #informers(): [string, Informer<SandboxResource> | Informer<V1Pod> | Informer<CoreV1Event>][] {
    return [
      ["pods", this.#pods],
      ["sandboxes", this.#sandboxes],
      ["events", this.#events],
    ];
  }

  start(): void {
    for (const [, informer] of this.#informers) informer.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.#informers.map(([, informer]) => informer.stop()));
  }

  hasSynced(): boolean {
    return this.#informers.every(([, informer]) => informer.hasSynced());
  }

  /** Why the cache is not (or no longer) up to date, for /readyz; undefined when healthy. */
  problem(): string | undefined {
    for (const [name, informer] of this.#informers) {
      const err = informer.lastError();
      if (!informer.hasSynced()) return `${name} cache not synced${err ? `: ${err}` : ""}`;
      // Still serving the last known state, but no longer seeing changes.
      if (err) return `${name} watch failing: ${err}`;
    }
    return undefined;
  }

  async waitForSync(signal?: AbortSignal): Promise<void> {
    await Promise.all(this.#informers.map(([, informer]) => informer.waitForSync(signal)));
  }

  get(sandboxId: string): DriverSandbox | undefined {
    const name = this.#crNameById.get(sandboxId);
    const cr = name === undefined ? undefined : this.#sandboxes.get(this.#namespace, name);
    const observed = cr && this.#observe(cr);
    return observed?.id === sandboxId ? observed : undefined;
  }

  list(): DriverSandbox[] {
    const out: DriverSandbox[] = [];
    for (const cr of this.#sandboxes.list()) {
      const observed = this.#observe(cr);
      if (observed) out.push(observed);
    }
    return out;
  }

  /** The current state as `sandbox` events, the first thing every new watch stream receives. */
  snapshotEvents(): WatchSandboxesEvent[] {
    return this.list().map((sandbox) => sandboxEvent(sandbox));
  }

  #podFor(sandboxId: string): V1Pod | undefined {
    const podName = this.#podNameById.get(sandboxId);
    return podName === undefined ? undefined : this.#pods.get(this.#namespace, podName);
  }

  #observe(cr: SandboxResource): DriverSandbox | undefined {
    const id = sandboxIdOf(cr);
    return observeSandbox(cr, id === undefined ? undefined : this.#podFor(id));
  }

  #publishIfChanged(sandboxId: string): void {
    const snapshot = this.get(sandboxId);
    if (!snapshot) return;
    const previous = this.#lastSent.get(sandboxId);
    if (previous && equals(DriverSandboxSchema, previous, snapshot)) return;
    this.#lastSent.set(sandboxId, snapshot);
    this.#hub.publish(sandboxEvent(snapshot));
  }

  #onSandbox(ev: InformerEvent<SandboxResource>): void {
    if (ev.type === "synced") return;
    const id = sandboxIdOf(ev.object);
    const name = ev.object.metadata?.name;
    if (id === undefined || name === undefined) return;
    if (ev.type === "deleted") {
      this.#crNameById.delete(id);
      this.#idByCrName.delete(name);
      this.#lastSent.delete(id);
      log.debug("sandbox deleted", { sandboxId: id, name });
      this.#hub.publish(create(WatchSandboxesEventSchema, { payload: { case: "deleted", value: { sandboxId: id } } }));
      return;
    }
    this.#crNameById.set(id, name);
    this.#idByCrName.set(name, id);
    this.#publishIfChanged(id);
  }

  #onPod(ev: InformerEvent<V1Pod>): void {
    if (ev.type === "synced") return;
    const id = sandboxIdOf(ev.object);
    const name = ev.object.metadata?.name;
    if (id === undefined || name === undefined) return;
    if (ev.type === "deleted") {
      if (this.#podNameById.get(id) === name) this.#podNameById.delete(id);
      this.#idByPodName.delete(name);
    } else {
      this.#podNameById.set(id, name);
      this.#idByPodName.set(name, id);
    }
    this.#publishIfChanged(id);
  }

  #onKubeEvent(ev: InformerEvent<CoreV1Event>): void {
    // Events from before the first sync are history; streams only get what happens while open.
    if (ev.type === "synced" || ev.type === "deleted" || !this.#events.hasSynced()) return;
    const mapped = platformEventFor(ev.object, {
      sandboxIdByCrName: this.#idByCrName,
      sandboxIdByPodName: this.#idByPodName,
    });
    if (!mapped) return;
    this.#hub.publish(
      create(WatchSandboxesEventSchema, {
        payload: { case: "platformEvent", value: { sandboxId: mapped.sandboxId, event: mapped.event } },
      }),
    );
  }
}

function sandboxEvent(sandbox: DriverSandbox): WatchSandboxesEvent {
  return create(WatchSandboxesEventSchema, { payload: { case: "sandbox", value: { sandbox } } });
}
