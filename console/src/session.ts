// Who is signed in, for every page: a viewer's pages show no button that changes anything.
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Session } from './api.ts';

export const SessionContext = createContext<Session | null>(null);

/** Whether the signed-in user may change things (role admin). */
export function useCanWrite(): boolean {
  return useContext(SessionContext)?.role === 'admin';
}
