// The Kubernetes edge: kubeconfig → Bun-fetch transport → typed errors → list+watch cache.
export { loadKubeAccess, TokenFile, type KubeAccess, type KubeTls, type LoadKubeAccessOptions } from "./kubeconfig";
export { KubeApiError, KubeCallCanceled, isKubeApiError, type KubeApiErrorInit } from "./errors";
export {
  KubeClient,
  type KubeClientOptions,
  type KubeObserver,
  type KubeRequest,
  type KubeVerb,
  type PatchType,
  type Query,
  type WatchEvent,
  type WatchEventType,
  type WatchRequest,
} from "./client";
export { Informer, type InformerEvent, type InformerOptions, type InitialSync, type ObjectMetaLike, type RestartReason } from "./informer";
export { retryDelayMs, serverNotServing, sleepUnlessAborted, type Backoff } from "./retry";
export { WatchScope } from "./watch-scope";
