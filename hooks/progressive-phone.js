// @name Ask for a phone number from the third login on
// @event before_progressive_profiling
// @mode sync
// @secrets none
// @purpose Progressive profiling: users who have signed in twice already and have no phone number
//   are asked for one (optional) before their third login completes.
export default async function (event, api) {
  if (event.flow !== 'login') return;
  if (event.user.login_count >= 2 && !event.user.phone_number) {
    api.form.requireFields([{ name: 'phone_number', label: 'Mobile phone number', type: 'tel', required: false }]);
  }
}
