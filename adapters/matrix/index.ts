// Public surface of the Matrix adapter.
export { MatrixAdapter, type MatrixAdapterOptions, type MatrixLog } from './matrix-adapter.js';
export { MatrixStartupError, type MatrixStartupCode } from './errors.js';
export type { InvitePolicy } from './invites.js';
export { MATRIX_PLATFORM, parseMessageEvent, type RoomEvent } from './parse.js';
export { markdownToMatrixHtml, measureMatrix, MATRIX_MAX_CONTENT_BYTES } from './format.js';
export { MAX_MEDIA_BYTES } from './media.js';
