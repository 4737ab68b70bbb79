//! Billing: a month's rated usage, its projection, and CSV exports that reconcile with it.

use crate::context::OpContext;
use crate::metering::{HOUR_MS, VmCharge, hourly_usage_kept_from};
use crate::{Control, Error};
use meridian_core::FieldErrors;
use meridian_core::calendar::{format_utc, month_bounds, month_label, parse_month};
use meridian_core::pricing::{HOURLY_USAGE_MONTHS, Invoice, Money};

/// A month's bill so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonthBill {
    /// "YYYY-MM".
    pub month: String,
    /// Rated usage of the month so far.
    pub invoice: Invoice,
    /// The total at the month's end if the tenant's VMs stay as they are (a past month: its
    /// total).
    pub projected: Money,
    /// What each VM cost, largest first; their sum is the invoice's total less bandwidth (free).
    pub by_vm: Vec<VmCharge>,
    /// Its hourly usage is still kept (the usage CSV has it): the last
    /// [`HOURLY_USAGE_MONTHS`] months.
    pub hourly_kept: bool,
}

impl Control {
    /// The bill of the calendar month (UTC) holding `now`, so far.
    pub async fn billing_month(&self, ctx: &OpContext, now: i64) -> Result<MonthBill, Error> {
        self.billing_invoice(ctx, &month_label(now), now).await
    }

    /// The bill of `month` ("2026-10"): a past month's final invoice, or the current month so far
    /// with its projection. A month that has not begun is not found.
    pub async fn billing_invoice(&self, ctx: &OpContext, month: &str, now: i64) -> Result<MonthBill, Error> {
        let Some(start) = parse_month(month) else {
            let mut fields = FieldErrors::default();
            fields.push("month", "Choose a month written like 2026-11.");
            return Err(Error::Invalid(fields));
        };
        if start > now {
            return Err(Error::NotFound);
        }
        let (start, end) = month_bounds(start);
        let invoice = self.usage_invoice(ctx, start, end).await?;
        let tenant = ctx.tenant()?.to_string();
        let projected = self.projection(&tenant, invoice.total(), now, end).await?;
        let by_vm = self.usage_by_vm(ctx, start, end).await?;
        Ok(MonthBill {
            month: month_label(start),
            invoice,
            projected,
            by_vm,
            hourly_kept: start >= hourly_usage_kept_from(now),
        })
    }

    /// What the billing page shows: the bill of `month` (this month when None) and every month
    /// there is a bill for.
    pub async fn billing_view(
        &self,
        ctx: &OpContext,
        month: Option<&str>,
        now: i64,
    ) -> Result<(MonthBill, Vec<String>), Error> {
        let bill = match month {
            Some(month) => self.billing_invoice(ctx, month, now).await?,
            None => self.billing_month(ctx, now).await?,
        };
        Ok((bill, self.billing_months(ctx, now).await?))
    }

    /// The months the tenant has a bill for, newest first: from its first metered hour to now
    /// (at most two years back).
    pub async fn billing_months(&self, ctx: &OpContext, now: i64) -> Result<Vec<String>, Error> {
        let tenant = ctx.tenant()?;
        let first = self
            .store
            .usage_first_hour(&tenant.to_string())
            .await?
            .unwrap_or(now);
        let mut months = Vec::new();
        let mut at = month_bounds(now).0;
        while months.len() < 24 {
            months.push(month_label(at));
            if at <= first {
                break;
            }
            at = month_bounds(at - 1).0;
        }
        Ok(months)
    }

    /// A month's invoice as CSV: one row per line, then the total (which equals their sum).
    pub async fn billing_invoice_csv(&self, ctx: &OpContext, month: &str, now: i64) -> Result<String, Error> {
        let bill = self.billing_invoice(ctx, month, now).await?;
        let mut csv = String::from("description,quantity,unit,unit_price_usd,amount_usd\n");
        for line in bill.invoice.lines() {
            csv.push_str(&format!(
                "\"{}\",{},{},{},{}\n",
                line.description.replace('"', "\"\""),
                line.quantity,
                line.unit.metered_label(),
                line.unit_price.format_precise().trim_start_matches('$'),
                line.amount.format_precise().trim_start_matches('$'),
            ));
        }
        csv.push_str(&format!(
            "\"Total\",,,,{}\n",
            bill.invoice.total().format_precise().trim_start_matches('$')
        ));
        Ok(csv)
    }

    /// A month's metered usage as CSV, one row per hour, kind and resource.
    pub async fn billing_usage_csv(&self, ctx: &OpContext, month: &str, now: i64) -> Result<String, Error> {
        let (start, end) = match parse_month(month) {
            Some(start) if start <= now => month_bounds(start),
            _ => return Err(Error::NotFound),
        };
        if start < hourly_usage_kept_from(now) {
            let mut fields = FieldErrors::default();
            fields.push(
                "month",
                format!(
                    "Hourly usage is kept for {HOURLY_USAGE_MONTHS} months; {month}'s is summed in its invoice."
                ),
            );
            return Err(Error::Invalid(fields));
        }
        let mut csv = String::from("hour_start_utc,hour_end_utc,kind,resource,size,zone,quantity\n");
        for row in self.usage_list(ctx, start, end).await? {
            csv.push_str(&format!(
                "{},{},{},{},{},{},{}\n",
                format_utc(row.hour_start),
                format_utc(row.hour_start + HOUR_MS),
                row.kind,
                row.resource_id,
                row.size,
                row.zone,
                row.quantity
            ));
        }
        Ok(csv)
    }
}
