// Signing out from the side nav (desktop) or the Account page (phone): one handler for both.

import { useNavigate } from 'react-router-dom';
import { logout } from '../state/auth';

/** Signs out and shows the login page. */
export function useSignOut(): () => Promise<void> {
  const navigate = useNavigate();
  return async () => {
    await logout();
    navigate('/login', { replace: true });
  };
}
