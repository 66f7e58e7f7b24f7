//! Who a certificate names, as NVFlare reads it (CN = user, O = org,
//! `unstructuredName` = role), whether it chains to the root CA, and its RSA
//! key for checking job signatures.

use std::sync::Arc;

use rsa::pkcs8::DecodePublicKey;
use rsa::RsaPublicKey;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use sha2::{Digest, Sha256};
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode, Encode};
use x509_cert::Certificate;

const CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const ORG: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
const UNSTRUCTURED_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.2");

/// The person a certificate names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The subject's CN: the user name.
    pub name: String,
    /// The subject's O, or empty.
    pub org: String,
    /// The subject's `unstructuredName`, or empty: the role.
    pub role: String,
    /// SHA-256 of the certificate's DER: what a session is bound to.
    pub fingerprint: [u8; 32],
}

/// A parsed certificate: who it names and its public key.
pub struct Cert {
    /// Who it names.
    pub identity: Identity,
    der: Vec<u8>,
}

impl Cert {
    /// Parses a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Cert, String> {
        let cert = Certificate::from_der(der).map_err(|e| format!("bad certificate: {e}"))?;
        let (mut name, mut org, mut role) = (None, None, None);
        for rdn in cert.tbs_certificate.subject.0.iter() {
            for atv in rdn.0.iter() {
                let slot = match atv.oid {
                    CN => &mut name,
                    ORG => &mut org,
                    UNSTRUCTURED_NAME => &mut role,
                    _ => continue,
                };
                if slot.is_none() {
                    *slot = Some(String::from_utf8_lossy(atv.value.value()).into_owned());
                }
            }
        }
        Ok(Cert {
            identity: Identity {
                name: name.ok_or("the certificate's subject has no CN")?,
                org: org.unwrap_or_default(),
                role: role.unwrap_or_default(),
                fingerprint: Sha256::digest(der).into(),
            },
            der: der.to_vec(),
        })
    }

    /// Parses the first certificate of a PEM text.
    pub fn from_pem(pem: &[u8]) -> Result<Cert, String> {
        use rustls::pki_types::pem::PemObject;
        let der = CertificateDer::from_pem_slice(pem).map_err(|e| format!("bad PEM: {e}"))?;
        Cert::from_der(&der)
    }

    /// The certificate's RSA public key.
    pub fn rsa_key(&self) -> Result<RsaPublicKey, String> {
        let cert = Certificate::from_der(&self.der).map_err(|e| e.to_string())?;
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| e.to_string())?;
        RsaPublicKey::from_public_key_der(&spki).map_err(|e| format!("not an RSA key: {e}"))
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }
}

/// Checks certificates against the root CA as the TLS layer does: the
/// chain, the validity period, the usage.
pub struct Chain {
    verifier: Arc<dyn ClientCertVerifier>,
}

impl Chain {
    /// Trusts the roots.
    pub fn new(roots: Arc<RootCertStore>) -> Result<Chain, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Chain { verifier })
    }

    /// Ok when `cert` chains to one of the roots and is valid now.
    pub fn verify(&self, cert: &Cert) -> Result<(), String> {
        let der = CertificateDer::from(cert.der());
        self.verifier
            .verify_client_cert(&der, &[], UnixTime::now())
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
