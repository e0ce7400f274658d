//! Benchmarks: `cargo bench -p castellan-crypto`.

use castellan_crypto::{
    hpke_open, hpke_seal, local_unlock_key, open, seal, unwrap_key, wrap_key, Context,
    HpkePrivateKey, KsfParams, SecretKey, SymmetricKey,
};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use uuid::Uuid;

fn envelope(c: &mut Criterion) {
    let key = SymmetricKey::generate();
    let kid = Uuid::from_u128(1);
    let ctx = Context::item_details(
        Uuid::nil(),
        Uuid::from_u128(2),
        Uuid::from_u128(3),
        1,
        1,
        Uuid::from_u128(4),
    );
    let item = vec![0x5Au8; 1024];
    let env = seal(&key, kid, &ctx, &item);
    c.bench_function("seal 1 KiB item", |b| {
        b.iter(|| seal(&key, kid, &ctx, black_box(&item)))
    });
    c.bench_function("open 1 KiB item", |b| {
        b.iter(|| open(&key, kid, &ctx, black_box(&env)).map(|pt| pt.len()))
    });

    let wrap_ctx = Context::vault_key_wrap(Uuid::from_u128(1), Uuid::from_u128(2), 1, "personal");
    let inner = SymmetricKey::generate();
    let wrapped = wrap_key(&key, kid, &wrap_ctx, &inner);
    c.bench_function("wrap_key", |b| {
        b.iter(|| wrap_key(&key, kid, &wrap_ctx, black_box(&inner)))
    });
    c.bench_function("unwrap_key", |b| {
        b.iter(|| unwrap_key(&key, kid, &wrap_ctx, black_box(&wrapped)).is_ok())
    });
}

fn kdf(c: &mut Criterion) {
    let mut g = c.benchmark_group("kdf");
    g.sample_size(10);
    let sk = SecretKey::generate();
    g.bench_function("local_unlock_key at FLOOR (64 MiB, t=3, p=4)", |b| {
        b.iter(|| {
            local_unlock_key(
                black_box("password"),
                &sk,
                &[7u8; 16],
                Uuid::nil(),
                KsfParams::FLOOR,
            )
            .is_ok()
        })
    });
    g.finish();
}

fn hpke(c: &mut Criterion) {
    let sk = HpkePrivateKey::generate();
    let pk = sk.public_key();
    let msg = [0x11u8; 32];
    let (enc, ct) = hpke_seal(&pk, b"info", b"aad", &msg).unwrap_or_default();
    c.bench_function("hpke seal 32 B", |b| {
        b.iter(|| hpke_seal(&pk, b"info", b"aad", black_box(&msg)).is_ok())
    });
    c.bench_function("hpke open 32 B", |b| {
        b.iter(|| hpke_open(&sk, &enc, b"info", b"aad", black_box(&ct)).is_ok())
    });
}

criterion_group!(benches, envelope, kdf, hpke);
criterion_main!(benches);
