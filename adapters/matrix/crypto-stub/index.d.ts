// Just enough types for matrix-bot-sdk's declarations to resolve; nothing here is usable (see index.js).
export declare enum StoreType { Sled = 0, Sqlite = 1 }
export declare enum RequestType { KeysUpload, KeysQuery, KeysClaim, ToDevice, SignatureUpload, RoomMessage, KeysBackup }
export declare class OlmMachine { [k: string]: any }
export declare class UserId { constructor(s: string) }
export declare class DeviceId { constructor(s: string) }
export declare class RoomId { constructor(s: string) }
export declare class DeviceLists { constructor(a: any, b: any) }
export declare class EncryptionSettings { [k: string]: any }
export declare class Attachment { static encrypt(b: any): any; static decrypt(b: any): any }
export declare class EncryptedAttachment { constructor(a: any, b: any); [k: string]: any }
export type KeysClaimRequest = any;
export type KeysQueryRequest = any;
export type KeysUploadRequest = any;
export type ToDeviceRequest = any;
export type SignatureUploadRequest = any;
export type KeysBackupRequest = any;
export type RoomMessageRequest = any;
export type Signatures = any;
