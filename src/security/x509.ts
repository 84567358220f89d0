/**
 * @peculiar/x509, ready to use: `reflect-metadata` loaded before it (the library, through tsyringe,
 * throws at import otherwise) and node:crypto's WebCrypto set as its provider. Import the library
 * through this module only, so the order can never be wrong.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto);

export { x509 };
