use super::*;
use crate::item::ItemType;

fn cert_for(company: &KeyPair, cid: Uuid, uid: Uuid, member: &KeyPair) -> SignedDoc {
    sign(
        &company.signing,
        statement::MEMBER_CERT,
        &MemberCertBody {
            company_id: cid,
            user_id: uid,
            email: "u@x.test".into(),
            role: RoleDto::User,
            signing_public_key: Bytes(member.public().signing.to_vec()),
            encryption_public_key: Bytes(member.public().encryption.to_vec()),
            serial: Uuid::new_v4(),
            issued_at: 0,
            issued_by: uid,
        },
    )
}

fn dto(req: &UploadBackupRequest, cid: Uuid, uid: Uuid) -> BackupDto {
    BackupDto {
        company_id: cid,
        user_id: uid,
        user_email: "u@x.test".into(),
        backup_id: req.backup_id,
        created_at: req.created_at,
        key_version: req.key_version,
        public_key: req.public_key.clone(),
        sealed_key: req.sealed_key.clone(),
        envelope: req.envelope.clone(),
        member_cert: req.member_cert.clone(),
        signature: req.signature.clone(),
    }
}

/// Seal, verify and open; a wrong key, another company's key, a tampered backup and a
/// signature by an uncertified key are refused before anything is opened.
#[test]
fn seal_verify_open_and_refusals() {
    let company = KeyPair::generate();
    let (cid, uid) = (Uuid::new_v4(), Uuid::new_v4());
    let member = KeyPair::generate();
    let backup_key = HpkePrivateKey::generate();
    let policy = OrgBackupPolicy {
        mode: OrgBackupMode::OfflineKey,
        public_key: Bytes(backup_key.public_key().to_bytes().to_vec()),
        key_version: 3,
        recovery_group_id: None,
        retention_days: 90,
    };
    let acct = UnlockedAccount {
        user_id: uid,
        email: "u@x.test".into(),
        ak: SymmetricKey::generate(),
        ak_version: 1,
        signing: castellan_crypto::SigningKey::from_seed(*member.signing.seed()),
        encryption: HpkePrivateKey::from_bytes(*member.encryption.to_bytes()),
        vaults: vec![],
        shares: Default::default(),
    };
    let mut data = ItemData::new(ItemType::Login, "Business login", now()).unwrap();
    data.notes = "secret".into();
    let payload = BackupPayload {
        format: 1,
        company_id: cid,
        user_id: uid,
        created_at: now(),
        items: vec![data],
        folders: vec![],
    };
    let req = seal_backup(
        &acct,
        &policy,
        cert_for(&company, cid, uid, &member),
        &payload,
    )
    .unwrap();
    let b = dto(&req, cid, uid);
    verify_backup(&company.public(), cid, uid, &b).unwrap();
    let opened = open_backup(&backup_key, &b).unwrap();
    assert_eq!(opened.items[0].title, "Business login");
    // Wrong key: refused.
    assert!(open_backup(&HpkePrivateKey::generate(), &b).is_err());
    // Another company's verification key: refused.
    assert!(verify_backup(&KeyPair::generate().public(), cid, uid, &b).is_err());
    // Tampered envelope: the signature fails.
    let mut t = b.clone();
    let n = t.envelope.0.len() - 1;
    t.envelope.0[n] ^= 1;
    assert!(matches!(
        verify_backup(&company.public(), cid, uid, &t),
        Err(ClientError::Integrity(_))
    ));
    // Signed by a key the certificate does not name.
    let mut f = b.clone();
    let other = KeyPair::generate();
    let bytes = backup_signed_bytes(
        f.backup_id,
        cid,
        uid,
        f.created_at,
        f.key_version,
        f.public_key.as_slice(),
        &crypto::sha256(f.sealed_key.as_slice()),
        &crypto::sha256(f.envelope.as_slice()),
    );
    f.signature = Bytes(
        other
            .signing
            .sign_statement(BACKUP_STATEMENT, &bytes)
            .to_vec(),
    );
    assert!(verify_backup(&company.public(), cid, uid, &f).is_err());
    // Another user's name on it.
    assert!(verify_backup(&company.public(), cid, Uuid::new_v4(), &b).is_err());
}
