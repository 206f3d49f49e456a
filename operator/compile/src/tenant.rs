//! The Tenant a snapshot is for -> its settings in the snapshot. Other Tenants in the input are
//! only checked, so `oblivious-operator compile` catches a broken one before merge.

use oblivious_config::{Budget, TenantSettings};
use oblivious_crds::{Sourced, TenantSpec};

use crate::lane::is_dns_label;
use crate::{CompileError, parse_price_micros};

pub(crate) fn compile_tenant(
    tenants: &[Sourced<TenantSpec>],
    tenant: Option<&str>,
    errors: &mut Vec<CompileError>,
) -> Option<TenantSettings> {
    let mut settings = None;
    for source in tenants {
        let name = source.metadata.name.clone();
        let mut error = |path: &str, reason: String| {
            errors.push(CompileError {
                origin: source.origin(),
                resource: format!("Tenant {name}"),
                path: path.into(),
                reason,
            })
        };
        let spec = &source.spec;
        if name == "default" || name.len() > 63 {
            error("metadata.name", "`default` is the platform tenant, and names are at most 63 characters".into());
        }
        if !is_dns_label(&spec.namespace) {
            error("spec.namespace", format!("`{}` is not a valid namespace name", spec.namespace));
        }
        if spec.fleet.max_replicas < spec.fleet.min_replicas {
            error("spec.fleet.maxReplicas", "must be at least minReplicas".into());
        }
        let budget = match &spec.budget {
            None => None,
            Some(b) => match parse_price_micros(&b.monthly_limit) {
                Ok(micros) => Some(Budget { currency: b.currency.clone(), monthly_limit_micros: micros }),
                Err(reason) => {
                    error("spec.budget.monthlyLimit", reason);
                    None
                }
            },
        };
        if tenant == Some(name.as_str()) {
            settings = Some(TenantSettings { name: name.clone(), budget });
        }
    }
    settings
}
