#version 330 core
// Lit in linear light; base colour textures are sRGB textures (decoded by the sampler) and
// the result is encoded to sRGB here because the render target stores sRGB values.
// u_frame_light: the face's light estimated from the camera frame (arfx.render.lighting):
// diffuse from second-order spherical harmonics (u_sh, camera space), a highlight from its
// key direction, and reflections of the frame (u_environment). Otherwise a fixed studio
// light: Lambert + Blinn-Phong from a key and a fill light, and an ambient term.
in vec3 v_position;
in vec3 v_normal;
in vec2 v_uv;
in vec4 v_color;
uniform vec4 u_base_color;      // linear RGBA (glTF baseColorFactor)
uniform bool u_has_texture;
uniform sampler2D u_texture;
uniform float u_metallic;
uniform float u_roughness;
uniform int u_alpha_mode;       // 0 opaque, 1 mask, 2 blend
uniform float u_alpha_cutoff;
uniform bool u_unlit;
uniform bool u_frame_light;
uniform vec3 u_sh[9];           // irradiance over 1, x, y, z, xy, yz, 3z^2-1, xz, x^2-y^2
uniform vec3 u_key_direction;   // camera space, towards the light
uniform float u_key_strength;
uniform sampler2D u_environment; // the frame, small and mipmapped (sRGB values)
out vec4 f_color;

const vec3 KEY_DIR = normalize(vec3(-0.4, 0.6, 0.7));   // camera space, towards the light
const vec3 FILL_DIR = normalize(vec3(0.6, -0.1, 0.5));
const vec3 AMBIENT = vec3(0.22);

vec3 linear_to_srgb(vec3 c) {
    c = clamp(c, 0.0, 1.0);
    return mix(c * 12.92, 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055, step(0.0031308, c));
}

vec3 srgb_to_linear(vec3 c) {
    return mix(c / 12.92, pow((c + 0.055) / 1.055, vec3(2.4)), step(0.04045, c));
}

vec3 irradiance(vec3 n) {
    vec3 e = u_sh[0] + u_sh[1] * n.x + u_sh[2] * n.y + u_sh[3] * n.z
        + u_sh[4] * (n.x * n.y) + u_sh[5] * (n.y * n.z) + u_sh[6] * (3.0 * n.z * n.z - 1.0)
        + u_sh[7] * (n.x * n.z) + u_sh[8] * (n.x * n.x - n.y * n.y);
    return max(e, vec3(0.0));
}

void main() {
    vec4 base = u_base_color * v_color;
    if (u_has_texture) {
        base *= texture(u_texture, v_uv);
    }
    if (u_alpha_mode == 1 && base.a < u_alpha_cutoff) {
        discard;
    }
    float alpha = u_alpha_mode == 2 ? base.a : 1.0;
    if (u_unlit) {
        f_color = vec4(linear_to_srgb(base.rgb), alpha);
        return;
    }
    vec3 n = normalize(v_normal);
    vec3 view = normalize(-v_position);
    if (!gl_FrontFacing) {
        n = -n;
    }
    float shininess = clamp(2.0 / max(pow(u_roughness, 4.0), 1e-4) - 2.0, 4.0, 512.0);
    vec3 specular_color = mix(vec3(0.04), base.rgb, u_metallic);
    vec3 diffuse_color = base.rgb * (1.0 - u_metallic);
    vec3 diffuse;
    vec3 specular = vec3(0.0);
    if (u_frame_light) {
        diffuse = diffuse_color * irradiance(n);
        float lambert = max(dot(n, u_key_direction), 0.0);
        vec3 h = normalize(u_key_direction + view);
        float spec = pow(max(dot(n, h), 0.0), shininess) * (shininess + 8.0) / 25.0;
        specular = u_key_strength * lambert * specular_color * spec;
        // Reflections of the frame: the reflected ray's direction picks a point of the frame,
        // blurrier the rougher the surface.
        vec3 r = reflect(-view, n);
        vec2 uv = vec2(0.5 + 0.5 * r.x, 0.5 - 0.5 * r.y);
        vec3 environment = srgb_to_linear(textureLod(u_environment, uv, u_roughness * 6.0).rgb);
        float grazing = pow(1.0 - max(dot(n, view), 0.0), 5.0);
        vec3 fresnel = specular_color + (vec3(1.0) - specular_color) * grazing;
        // Half strength: the frame shows what is in front of the person, not what they face.
        float sharp = 1.0 - u_roughness;
        specular += 0.5 * environment * fresnel * sharp * sharp;
    } else {
        diffuse = AMBIENT * base.rgb;
        vec3 dirs[2] = vec3[2](KEY_DIR, FILL_DIR);
        float strengths[2] = float[2](0.95, 0.35);
        for (int i = 0; i < 2; ++i) {
            float lambert = max(dot(n, dirs[i]), 0.0);
            vec3 h = normalize(dirs[i] + view);
            float spec = pow(max(dot(n, h), 0.0), shininess) * (shininess + 8.0) / 25.0;
            diffuse += strengths[i] * lambert * diffuse_color;
            specular += strengths[i] * lambert * specular_color * spec;
        }
    }
    if (u_alpha_mode == 2) {
        // A reflection is not dimmed by the surface's transparency: glossy lenses keep
        // their highlights (otherwise they would vanish with the alpha).
        float shine = max(max(specular.r, specular.g), specular.b);
        alpha = clamp(alpha + shine, 0.0, 1.0);
    }
    f_color = vec4(linear_to_srgb(diffuse + specular), alpha);
}
