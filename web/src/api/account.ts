// Accounts, balance, redemption and API keys (dataplane/gateway/src/routes/{auth,user,keys}.rs).

import { api } from './client';
import type { ApiKey, CreatedApiKey, LoginAnswer, NewApiKey, Quota, UsageRow, User } from './types';

export const accountApi = {
  register: (username: string, email: string, password: string) =>
    api.post<User>('/auth/register', { username, email, password }, { auth: false }),
  login: (login: string, password: string) => {
    const body = login.includes('@') ? { email: login, password } : { username: login, password };
    return api.post<LoginAnswer>('/auth/login', body, { auth: false });
  },
  logout: (refreshToken: string) => api.post<void>('/auth/logout', { refresh_token: refreshToken }, { auth: false }),
  profile: () => api.get<User>('/user/profile'),
  updateProfile: (change: { display_name?: string; email?: string; current_password?: string; new_password?: string }) =>
    api.put<User>('/user/profile', change),
  quota: () => api.get<Quota>('/user/quota'),
  usage: () => api.get<{ data: UsageRow[]; currency: string }>('/user/usage'),
  redeem: (code: string) => api.post<{ amount: string; balance: string; currency: string }>('/user/redeem', { code }),
  listKeys: () => api.get<{ data: ApiKey[] }>('/keys'),
  createKey: (key: NewApiKey) => api.post<CreatedApiKey>('/keys', key),
  revokeKey: (id: string) => api.delete(`/keys/${encodeURIComponent(id)}`),
};
