import { createContext, useContext } from 'react';
import type { Me } from './api';

export const SessionContext = createContext<{ me: Me; logout: () => void } | null>(null);

export function useSession() {
  const s = useContext(SessionContext);
  if (!s) throw new Error('no session');
  return s;
}

export function useCan(): (permission: string) => boolean {
  const { me } = useSession();
  return (permission) => me.permissions.includes(permission);
}
