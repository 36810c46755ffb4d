// The members panel of a private community: who belongs and with which role. The owner and
// admins invite people, change roles and remove members; every change gives the community new
// keys that reach the remaining members only.

import { del, get, post, put } from '../lib/api.js';
import { avatar, h, replace } from '../lib/dom.js';
import { shortId } from '../lib/identity.js';
import { busy } from '../lib/widgets.js';

const ROLES = [
  ['admin', 'Admin'],
  ['writer', 'Writer'],
  ['reader', 'Reader'],
];
const LABELS = { owner: 'Owner', ...Object.fromEntries(ROLES) };

/** How long a Remove button waits for its confirming second click. */
const CONFIRM_MS = 5000;

function memberRow(ctx, view, member, apply, errorBox) {
  const path = `/forum/api/c/${view.space}/members/${encodeURIComponent(member.member)}`;
  const manageable = view.can_manage && member.role !== 'owner' && !member.me;
  const label = member.name || shortId(member.member);
  let controls;
  if (manageable) {
    const select = h(
      'select.role-select',
      {
        'data-test': 'member-role',
        'aria-label': `Role of ${label}`,
        onchange: async () => {
          select.disabled = true;
          errorBox.textContent = '';
          try {
            apply(await put(path, { role: select.value }));
            ctx.toast(`${label} is now ${select.value === 'admin' ? 'an' : 'a'} ${select.value}.`);
          } catch (error) {
            errorBox.textContent = error.message;
            select.value = member.role;
            select.disabled = false;
          }
        },
      },
      ROLES.map(([value, text]) => {
        const option = h('option', { value }, text);
        option.selected = value === member.role;
        return option;
      }),
    );
    let armed;
    const remove = h(
      'button.small.danger',
      {
        type: 'button',
        'data-test': 'remove-member',
        title: 'New keys go to everyone else: nothing written after this reaches them',
        onclick: async () => {
          if (!remove.classList.contains('armed')) {
            remove.classList.add('armed');
            remove.textContent = 'Confirm removal';
            armed = setTimeout(() => {
              remove.classList.remove('armed');
              remove.textContent = 'Remove';
            }, CONFIRM_MS);
            return;
          }
          clearTimeout(armed);
          remove.disabled = true;
          remove.textContent = 'Removing…';
          errorBox.textContent = '';
          try {
            apply(await del(path));
            ctx.toast(`${label} was removed. New posts are sealed to new keys they do not hold.`);
          } catch (error) {
            errorBox.textContent = error.message;
            remove.disabled = false;
            remove.classList.remove('armed');
            remove.textContent = 'Remove';
          }
        },
      },
      'Remove',
    );
    controls = h('span.member-controls', {}, select, remove);
  } else {
    controls = h(
      `span.role-badge.role-${member.role}`,
      { 'data-test': 'member-role-label' },
      LABELS[member.role] ?? member.role,
    );
  }
  return h(
    'li.member',
    { 'data-test': 'member', 'data-member': member.member, 'data-role': member.role },
    avatar(member.member, member.name),
    h(
      'span.member-name',
      { title: member.member },
      label,
      member.me ? h('span.hint', {}, ' (you)') : null,
    ),
    controls,
  );
}

/** The panel; it loads the members itself and reloads them after each change. */
export function membersPanel(ctx, community) {
  const errorBox = h('p.form-error', { role: 'alert', 'data-test': 'members-error' });
  const list = h('ul.members', { 'data-test': 'members' });
  const inviteBox = h('div');
  const hint = h('p.hint');

  const apply = (view) => {
    replace(
      hint,
      view.can_manage
        ? 'Invite people by their identity text: they join as writers. Removing someone changes the keys, so nothing written afterwards reaches them; what they read before stays with them.'
        : 'The owner and admins invite and remove members. Nobody else can read this community, node operators included.',
    );
    replace(list, ...view.members.map((m) => memberRow(ctx, view, m, apply, errorBox)));
    replace(inviteBox, view.can_manage ? inviteForm() : null);
  };

  const reload = async () => apply(await get(`/forum/api/c/${community.space}/members`));

  const inviteForm = () => invitePeople(ctx, community, reload);

  const panel = h(
    'div.invite.members-panel',
    { 'data-test': 'members-panel' },
    h('h3', {}, 'Members'),
    hint,
    inviteBox,
    list,
    errorBox,
  );
  void reload().catch((error) => {
    errorBox.textContent = error.message;
  });
  return panel;
}

/**
 * The form that invites someone by identity text into a private community; `onInvited(to)`
 * runs once the invitation is out (the panel reloads its list, an old private space lists it).
 */
export function invitePeople(ctx, community, onInvited) {
  const input = h('input', {
    name: 'to',
    placeholder: 'p2pid1… identity of the person to invite',
    autocomplete: 'off',
    spellcheck: 'false',
    'data-test': 'invite-input',
  });
  const inviteError = h('p.form-error', { role: 'alert' });
  const form = h(
    'form.invite-form',
    {
      onsubmit: (event) => {
        event.preventDefault();
        void busy(form, inviteError, async () => {
          const to = input.value.trim();
          await post(`/forum/api/c/${community.space}/invites`, { to });
          ctx.toast('Invitation sent: the keys are sealed to that identity.');
          input.value = '';
          await onInvited(to);
        });
      },
    },
    input,
    h('button.primary', { type: 'submit', 'data-test': 'invite-submit' }, 'Invite'),
  );
  return h('div', {}, form, inviteError);
}
