import { EN, type Catalog } from './en.ts';
export const ES: Catalog = { ...EN };
