//! Runn's request and response types, field for field as in the official spec
//! (`runn-schemas.json`). Required-but-nullable response fields are `Option` without a
//! default, so an answer that leaves one out is a contract error, not a silent `None`.

use crate::ids::*;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// `Reference`: how a Runn record carries an id from another system.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reference {
    pub reference_name: String,
    pub external_id: String,
}

impl Reference {
    pub const CLOCKIFY: &'static str = "Clockify";
    /// Whether this is a Clockify reference, whatever the case and spacing of its name
    /// (customers enter these by hand).
    pub fn is_clockify(&self) -> bool {
        self.reference_name
            .trim()
            .eq_ignore_ascii_case(Self::CLOCKIFY)
    }
    pub fn clockify(external_id: impl Into<String>) -> Self {
        Self {
            reference_name: Self::CLOCKIFY.into(),
            external_id: external_id.into(),
        }
    }
}

/// The list envelope every paged endpoint answers with.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub values: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Client {
    pub id: RunnClientId,
    pub name: String,
    pub website: Option<String>,
    pub is_archived: bool,
    pub references: Vec<Reference>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `ClientInput`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewClient {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub references: Vec<Reference>,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Tag {
    pub id: i64,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct CustomFields {
    pub select: Vec<serde_json::Value>,
    pub text: Vec<serde_json::Value>,
    pub checkbox: Vec<serde_json::Value>,
    pub date: Vec<serde_json::Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PricingModel {
    Fp,
    Tm,
    Nb,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RateType {
    Hours,
    Days,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub id: RunnProjectId,
    pub name: String,
    pub is_template: bool,
    pub is_archived: bool,
    pub is_confirmed: bool,
    pub pricing_model: PricingModel,
    pub rate_type: RateType,
    pub team_id: Option<i64>,
    pub budget: Option<f64>,
    pub expenses_budget: Option<f64>,
    pub references: Vec<Reference>,
    pub client_id: RunnClientId,
    pub rate_card_id: i64,
    pub custom_fields: CustomFields,
    pub manager_ids: Vec<f64>,
    pub tags: Vec<Tag>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /projects/` body, branch A (a normal create).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewProject {
    pub name: String,
    pub client_id: RunnClientId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_confirmed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pricing_model: Option<PricingModel>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub references: Vec<Reference>,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectTag {
    pub id: RunnTagId,
    pub name: String,
    pub project_ids: Vec<RunnProjectId>,
    pub archived: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct ManagerRef {
    pub id: i64,
}

/// `CollectionPerson`: a person as lists return it.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CollectionPerson {
    pub id: RunnPersonId,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub is_archived: bool,
    pub team_id: Option<i64>,
    pub references: Vec<Reference>,
    pub tags: Vec<Tag>,
    pub holidays_group_id: Option<f64>,
    pub managers: Vec<ManagerRef>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct PersonNote {
    pub id: i64,
    pub note: String,
    #[serde(rename = "createdBy")]
    pub created_by: String,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct PersonSkill {
    pub id: i64,
    pub level: Option<i64>,
}

/// `Person`: a single person as create/get/patch return it.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    pub id: RunnPersonId,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub is_archived: bool,
    pub references: Vec<Reference>,
    pub notes: Vec<PersonNote>,
    pub team_id: Option<f64>,
    pub tags: Vec<Tag>,
    pub skills: Vec<PersonSkill>,
    pub holidays_group_id: Option<f64>,
    pub custom_fields: CustomFields,
    pub managers: Vec<ManagerRef>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /people/` body (it also creates the person's first contract).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewPerson {
    pub first_name: String,
    pub last_name: String,
    pub role_id: RunnRoleId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub references: Vec<Reference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_date: Option<NaiveDate>,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct RosteredDays {
    pub monday: f64,
    pub tuesday: f64,
    pub wednesday: f64,
    pub thursday: f64,
    pub friday: f64,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Contract {
    pub id: RunnContractId,
    pub cost_per_hour: Option<f64>,
    pub employment_type: String,
    pub minutes_per_day: Option<f64>,
    pub rostered_days: RosteredDays,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub role_id: RunnRoleId,
    pub person_id: RunnPersonId,
    pub job_title: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    pub id: RunnRoleId,
    pub name: Option<String>,
    pub is_archived: bool,
    pub default_hour_cost: f64,
    pub standard_rate: f64,
    pub references: Vec<Reference>,
    pub person_ids: Vec<RunnPersonId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewRole {
    pub name: String,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub references: Vec<Reference>,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Actual {
    pub id: RunnActualId,
    pub date: NaiveDate,
    pub billable_minutes: f64,
    pub nonbillable_minutes: f64,
    pub billable_note: Option<String>,
    pub nonbillable_note: Option<String>,
    pub phase_id: Option<RunnPhaseId>,
    pub person_id: RunnPersonId,
    pub project_id: RunnProjectId,
    pub role_id: RunnRoleId,
    pub workstream_id: Option<RunnWorkstreamId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `ActualInput`: an upsert that *replaces* the day's minutes for (date, person, project,
/// role, workstream). Note Runn's spelling `nonbillableMinutes`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActualInput {
    pub date: NaiveDate,
    pub billable_minutes: u32,
    pub nonbillable_minutes: u32,
    pub person_id: RunnPersonId,
    pub project_id: RunnProjectId,
    pub role_id: RunnRoleId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billable_note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonbillable_note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workstream_id: Option<RunnWorkstreamId>,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    pub id: RunnAssignmentId,
    pub person_id: RunnPersonId,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub project_id: RunnProjectId,
    pub minutes_per_day: i64,
    pub role_id: RunnRoleId,
    pub is_active: bool,
    pub note: Option<String>,
    pub is_billable: bool,
    pub phase_id: Option<RunnPhaseId>,
    pub is_non_working_day: bool,
    pub is_template: bool,
    pub is_placeholder: bool,
    pub workstream_id: Option<RunnWorkstreamId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Me {
    pub name: String,
}

/// The fields of a client, project or person a PATCH sets (each whole): the reference
/// list (the records' own, with the Clockify one added) and the archived flag.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub references: Option<Vec<Reference>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_archived: Option<bool>,
}
