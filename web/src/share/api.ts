// Typed calls to the sharing endpoints (crates/castellan-types/src/shares.rs, module docs).
import type { Api } from '../client/api';
import type { ObjectDto } from '../client/types';
import type { CreateShareRequest, DirectoryResponse, MyGroupDto, RotateShareRequest, ShareDto, ShareGrantDto, UpdateAclRequest } from './types';

export class ShareApi {
  constructor(readonly api: Api) {}
  directory(companyId: string) {
    return this.api.call<DirectoryResponse>('GET', `/companies/${companyId}/directory`);
  }
  myGroups() {
    return this.api.call<{ groups: MyGroupDto[] }>('GET', '/me/groups');
  }
  shares() {
    return this.api.call<{ shares: ShareDto[] }>('GET', '/shares');
  }
  share(id: string) {
    return this.api.call<ShareDto>('GET', `/shares/${id}`);
  }
  create(req: CreateShareRequest) {
    return this.api.call<unknown>('POST', '/shares', req);
  }
  updateAcl(id: string, req: UpdateAclRequest) {
    return this.api.call<unknown>('PUT', `/shares/${id}/acl`, req);
  }
  addGrants(id: string, grants: ShareGrantDto[]) {
    return this.api.call<unknown>('POST', `/shares/${id}/grants`, { grants });
  }
  rotate(id: string, req: RotateShareRequest) {
    return this.api.call<unknown>('POST', `/shares/${id}/rotate`, req);
  }
  accept(id: string) {
    return this.api.call<unknown>('POST', `/shares/${id}/accept`);
  }
  decline(id: string) {
    return this.api.call<unknown>('POST', `/shares/${id}/decline`);
  }
  remove(id: string) {
    return this.api.call<unknown>('DELETE', `/shares/${id}`);
  }
  objects(vaultId: string) {
    return this.api.call<{ objects: ObjectDto[] }>('GET', `/objects?vault_id=${vaultId}`);
  }
}
