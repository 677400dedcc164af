import type { AdminClient } from '../api/admin.js';

/** What every page of the operator gets: the admin API of the signed-in session. */
export interface AdminPageProps {
  api: AdminClient;
}
