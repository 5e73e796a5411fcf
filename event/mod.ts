/**
 * Event Values: state that changes over time, watched without polling.
 * `MemoryValue` lives in this process; `EtcdValue` follows a key or key
 * range in etcd.
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
export { EtcdDecodeError, type EtcdDecoder, EtcdValue, type EtcdValueOptions, type EtcdWatcher } from "./etcd.ts";
