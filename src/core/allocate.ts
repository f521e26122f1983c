/**
 * Allocation of the large buffers the core fills completely before anyone
 * reads them (received message payloads, outgoing frames). The default zero
 * fills, as any Uint8Array does; a runtime adapter may install a faster
 * allocator of uninitialised memory (Node: Buffer.allocUnsafeSlow), which is
 * safe because no byte of such a buffer is read or sent before it was written.
 */

/** Returns a Uint8Array of `size` bytes with its own ArrayBuffer, at byte offset 0. */
export type Allocator = (size: number) => Uint8Array;

let allocator: Allocator = (size) => new Uint8Array(size);

/**
 * Installs the allocator the core uses from now on. It must return a plain
 * Uint8Array over its own ArrayBuffer at offset 0 (never a slice of a shared
 * pool: applications may use a message's `.buffer`).
 */
export function setAllocator(fn: Allocator): void {
  allocator = fn;
}

/** A buffer of `size` bytes whose content is unspecified until written. */
export function allocate(size: number): Uint8Array {
  return allocator(size);
}

let frameAllocator: Allocator | null = null;

/**
 * Installs the allocator of outgoing frame buffers, which only ever go to the
 * transport (never to applications): a runtime adapter may return its native
 * byte type (Node: a Buffer), so that handing a frame to a socket needs no
 * conversion. Same contract as {@link setAllocator}; default: that allocator.
 */
export function setFrameAllocator(fn: Allocator): void {
  frameAllocator = fn;
}

/** A buffer for outgoing frames of `size` bytes, content unspecified until written. */
export function allocateFrameStorage(size: number): Uint8Array {
  return frameAllocator === null ? allocator(size) : frameAllocator(size);
}
