export { fullStack, type ArrivingSettings, type FullStack, type FullStackSettings } from './full-stack.js';
export { heapAfterGc } from './heap.js';
export { activeResources, resourcesAbove, settleResources } from './resources.js';
export { runSoak, soakStack, type SoakOptions, type SoakReport } from './soak.js';
