/**
 * Event Values: state that changes over time, watched without polling.
 * `MemoryValue` lives in this process; `EtcdValue` follows a key or key
 * range in etcd. `connectEtcd` makes the etcd3 client for a cluster (every
 * member, a deadline per attempt, retries that outlast an election).
 *
 * @module
 */
export {
  BacklogDoneError,
  type GetOptions,
  type SettableValue,
  type Value,
  type Watcher,
  WatcherBusyError,
  WatcherClosedError,
} from "./value.ts";
export { MemoryValue } from "./memory.ts";
export { connectEtcd, type EtcdClientOptions } from "./etcd_client.ts";
export { EtcdDecodeError, type EtcdDecoder, EtcdValue, type EtcdValueOptions, type EtcdWatcher } from "./etcd.ts";
