//! Templates: the built-in images, and tenant templates that add their own cloud-config.

use crate::context::OpContext;
use crate::store::template::TemplateRow;
use crate::store::{is_unique_violation, now_ms};
use crate::{Control, Error};
use meridian_core::id::TemplateId;
use meridian_core::resource::TemplateCreate;
use meridian_core::view;

impl Control {
    /// Creates a tenant template from a built-in base and cloud-config.
    pub async fn template_create(
        &self,
        ctx: &OpContext,
        name: &str,
        base: &str,
        user_data: &str,
    ) -> Result<view::Template, Error> {
        self.audited(ctx, "template.create", name, async {
            let tenant = ctx.tenant_for_mutation()?;
            let create = TemplateCreate::parse(name, base, user_data).map_err(Error::Invalid)?;
            let row = TemplateRow {
                id: uuid::Uuid::new_v4().to_string(),
                name: create.name.as_str().to_owned(),
                base: create.base.id.to_string(),
                user_data: create.user_data.as_str().to_owned(),
            };
            match self.store.template_insert(&tenant, &row, now_ms()).await {
                Err(error) if is_unique_violation(&error) => Err(Error::Conflict {
                    field: Some("name"),
                    message: "You already have a template with this name.".into(),
                }),
                other => other.map(|()| row.into()).map_err(Error::from),
            }
        })
        .await
    }

    /// The tenant's own templates.
    pub async fn template_list(&self, ctx: &OpContext) -> Result<Vec<view::Template>, Error> {
        let tenant = ctx.tenant()?;
        let rows = self.store.template_list(&tenant.to_string()).await?;
        Ok(rows.into_iter().map(view::Template::from).collect())
    }

    /// Removes a tenant template (VMs created from it keep running what they were created from).
    pub async fn template_delete(&self, ctx: &OpContext, id: TemplateId) -> Result<(), Error> {
        let id = id.to_string();
        self.audited(ctx, "template.delete", &id, async {
            let tenant = ctx.tenant_for_mutation()?;
            if self.store.template_delete(&tenant, &id).await? {
                Ok(())
            } else {
                Err(Error::NotFound)
            }
        })
        .await
    }
}
